"""Smart-campaign endpoints of the lead database: campaigns (all, or only those a trigger can
request), one campaign, Request Campaign (≤100 leads, 1003 beyond) and Schedule Campaign."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.routing import Route

from mopsgate.sandbox.emulator_base import Gate
from mopsgate.sandbox.marketo.errors import MktoError
from mopsgate.sandbox.marketo.rules import InstanceRules
from mopsgate.sandbox.marketo.state import SmartCampaign
from mopsgate.sandbox.marketo.wire import Ctx, Envelope, Payload, iso_z, page_after

TRIGGER_CAP = 100


def _record(ctx: Ctx, camp: SmartCampaign) -> dict[str, Any]:
    prog = ctx.state.program(camp.program_id)
    return {
        "id": camp.id,
        "name": camp.name,
        "description": "",
        "type": camp.type,
        "programId": camp.program_id,
        "programName": prog.name if prog else None,
        "workspaceName": "Default",
        "active": camp.is_active,
        "createdAt": iso_z(camp.created_at),
        "updatedAt": iso_z(camp.created_at),
    }


def _campaign(ctx: Ctx) -> SmartCampaign:
    camp = ctx.state.smart_campaign(ctx.id_param())
    if camp is None:
        raise MktoError("1013", "Campaign not found")
    return camp


def _input_object(ctx: Ctx) -> dict[str, Any]:
    body = ctx.body if isinstance(ctx.body, dict) else {}
    inner = body.get("input", {})
    return inner if isinstance(inner, dict) else {}


class CampaignRoutes:
    def __init__(self, rules: InstanceRules) -> None:
        self.rules = rules

    async def campaigns(self, ctx: Ctx) -> Payload:
        found = {c.id: c for c in ctx.state.smart_campaigns()}
        chosen = sorted(found)
        if ctx.q("isTriggerable") == "true":
            chosen = [c for c in chosen if found[c].is_active and found[c].is_requestable]
        wanted = {int(v) for v in ctx.csv("id") if v.isdigit()}
        if wanted:
            chosen = [c for c in chosen if c in wanted]
        page = page_after(chosen, ctx, ctx.batch_size())
        page["result"] = [_record(ctx, found[c]) for c in page.pop("ids")]
        return page

    async def campaign_by_id(self, ctx: Ctx) -> Payload:
        return {"result": [_record(ctx, _campaign(ctx))]}

    async def trigger(self, ctx: Ctx) -> Payload:
        cid = _campaign(ctx).id
        inner = _input_object(ctx)
        leads = inner.get("leads")
        if not isinstance(leads, list) or not leads:
            raise MktoError("701", "leads cannot be blank")
        if len(leads) > TRIGGER_CAP:
            raise MktoError("1003", f"Number of leads exceeds the limit of {TRIGGER_CAP}")
        lead_ids = [item.get("id") for item in leads if isinstance(item, dict)]
        tokens = list(inner.get("tokens") or [])
        self.rules.trigger(cid, [i for i in lead_ids if isinstance(i, int)], tokens)
        return {"result": [{"id": cid}]}

    async def schedule(self, ctx: Ctx) -> Payload:
        cid = _campaign(ctx).id
        inner = _input_object(ctx)
        run_at = None
        if inner.get("runAt"):
            try:
                run_at = datetime.fromisoformat(str(inner["runAt"]))
            except ValueError as exc:
                raise MktoError("1003", "Invalid runAt date") from exc
            if run_at.tzinfo is None:
                raise MktoError("1003", "runAt needs a UTC offset")
        self.rules.schedule(cid, run_at, list(inner.get("tokens") or []))
        return {"result": [{"id": cid}]}


def routes(gate: Gate, envelope: Envelope, rules: InstanceRules) -> list[Route]:
    r, h = CampaignRoutes(rules), envelope.handler
    one = "/rest/v1/campaigns/{id}"
    return [
        gate.route("/rest/v1/campaigns.json", h(r.campaigns)),
        gate.route(one + ".json", h(r.campaign_by_id)),
        gate.route(one + "/trigger.json", h(r.trigger), ["POST"], write=True),
        gate.route(one + "/schedule.json", h(r.schedule), ["POST"], write=True),
    ]

"""Program membership endpoints of the Marketo emulator: a program's members (and its leads with
their membership), a lead's program memberships, and moving members along the channel's
(forward-only) progression ladder (the programs API's ``members/status.json`` and the lead
database's ``leads/programs/{id}/status.json``)."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from mopsgate.sandbox.emulator_base import Gate
from mopsgate.sandbox.faults import Faults
from mopsgate.sandbox.marketo.errors import MktoError
from mopsgate.sandbox.marketo.routes_leads import lead_view, requested_fields
from mopsgate.sandbox.marketo.routes_lists import known_lead
from mopsgate.sandbox.marketo.rules import InstanceRules
from mopsgate.sandbox.marketo.state import Member, Program
from mopsgate.sandbox.marketo.wire import Ctx, Envelope, Payload, input_ids, page_after


def program(ctx: Ctx) -> Program:
    prog = ctx.state.program(ctx.id_param())
    if prog is None:
        raise MktoError("1013", "Program not found")
    return prog


class ProgramRoutes:
    def __init__(self, rules: InstanceRules, faults: Faults) -> None:
        self.rules = rules
        self.faults = faults

    async def members(self, ctx: Ctx) -> Payload:
        prog = program(ctx)
        chosen = sorted(prog.members)
        if ctx.q("filterType") == "leadId":
            wanted = {int(v) for v in ctx.csv("filterValues") if v.isdigit()}
            chosen = [lid for lid in chosen if lid in wanted]
        elif ctx.q("filterType"):
            raise MktoError("1003", f"Unsupported filterType '{ctx.q('filterType')}'")
        page = page_after(chosen, ctx, ctx.batch_size())
        page["result"] = [
            {
                "seq": seq,
                "leadId": lid,
                "programId": prog.id,
                "acquiredBy": False,
                "statusName": prog.members[lid].status,
                **_membership(prog.members[lid]),
            }
            for seq, lid in enumerate(page.pop("ids"))
        ]
        return page

    async def leads(self, ctx: Ctx) -> Payload:
        """Get Leads by Program: each lead's fields and its ``membership``."""
        prog = program(ctx)
        fields = requested_fields(ctx)
        page = page_after(sorted(prog.members), ctx, ctx.batch_size())
        page["result"] = [
            {
                **lead_view(ctx, lid, fields),
                "membership": {
                    "acquiredBy": False,
                    "isExhausted": False,
                    **_membership(prog.members[lid]),
                },
            }
            for lid in page.pop("ids")
        ]
        return page

    async def memberships(self, ctx: Ctx) -> Payload:
        of = ctx.state.programs_of(known_lead(ctx))
        page = page_after(sorted(of), ctx, ctx.batch_size())
        page["result"] = [
            {"id": pid, "acquiredBy": False, "isExhausted": False, **_membership(of[pid])}
            for pid in page.pop("ids")
        ]
        return page

    async def status(self, ctx: Ctx) -> Payload:
        prog = program(ctx)
        body = ctx.body if isinstance(ctx.body, dict) else {}
        status = body.get("statusName")
        if not isinstance(status, str) or not status:
            raise MktoError("701", "statusName cannot be blank")
        lead_ids = input_ids(ctx, key="leadId")
        failing = set(self.faults.fail_record_ids)
        return {"result": self.rules.set_program_status(prog.id, status, lead_ids, failing)}

    async def lead_status(self, ctx: Ctx) -> Payload:
        """Change Lead Program Status (``{"status": ..., "input": [{"id": ...}]}``): the same
        forward-only progression, answered per lead id."""
        prog = program(ctx)
        body = ctx.body if isinstance(ctx.body, dict) else {}
        status = body.get("status")
        if not isinstance(status, str) or not status:
            raise MktoError("701", "status cannot be blank")
        failing = set(self.faults.fail_record_ids)
        done = self.rules.set_program_status(prog.id, status, input_ids(ctx), failing)
        return {"result": [_by_id(item) for item in done]}


def _by_id(item: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in item.items() if k not in ("seq", "leadId")}
    return {"id": item.get("leadId"), **out}


def _membership(m: Member) -> dict[str, Any]:
    return {
        "progressionStatus": m.status,
        "reachedSuccess": m.reached_success,
        "membershipDate": m.membership_date,
        "updatedAt": m.updated_at,
    }


def routes(gate: Gate, envelope: Envelope, rules: InstanceRules, faults: Faults) -> list[Route]:
    r, h = ProgramRoutes(rules, faults), envelope.handler
    return [
        gate.route("/rest/v1/programs/{id}/members.json", h(r.members)),
        gate.route("/rest/v1/programs/{id}/members/status.json", h(r.status), ["POST"], write=True),
        gate.route("/rest/v1/leads/{id}/programMembership.json", h(r.memberships)),
        gate.route("/rest/v1/leads/programs/{id}.json", h(r.leads)),
        gate.route(
            "/rest/v1/leads/programs/{id}/status.json", h(r.lead_status), ["POST"], write=True
        ),
    ]

"""Write endpoints of the Marketo emulator, plus the lead-database campaign reads they gate.

Batch caps (300 leads, 100 for Request Campaign) are refused with 1003 as Marketo does, record
results keep input order, and ``Faults.fail_record_ids`` turns chosen leads into per-record
``skipped`` results so clients can be tested on partial failures.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mopsgate.sandbox.marketo.app import Ctx, Router, page_after
from mopsgate.sandbox.marketo.seed import iso_z
from mopsgate.sandbox.marketo.state import MktoError

TRIGGER_CAP = 100
BATCH_CAP = 300


def _fail_ids(ctx: Ctx) -> set[str]:
    faults = ctx.request.app.state.gate.core.faults
    return set(faults.fail_record_ids)


def _input_ids(ctx: Ctx, key: str = "id", cap: int = BATCH_CAP) -> list[Any]:
    """Lead ids from a JSON ``input`` array or, as Marketo also allows, ``?id=1,2``."""
    body = ctx.body
    if isinstance(body, dict) and isinstance(body.get("input"), list):
        out = [item.get(key) if isinstance(item, dict) else None for item in body["input"]]
    else:
        out = [int(v) for v in ctx.csv("id") if v.isdigit()]
    if not out:
        raise MktoError("701", "input cannot be blank")
    if len(out) > cap:
        raise MktoError("1003", f"Batch size exceeds the limit of {cap}")
    return out


async def sync_leads(ctx: Ctx) -> dict[str, Any]:
    body = ctx.body if isinstance(ctx.body, dict) else {}
    if body.get("action", "createOrUpdate") != "updateOnly" or body.get("lookupField") != "id":
        raise MktoError("1003", "The sandbox supports action 'updateOnly' with lookupField 'id'")
    records = body.get("input")
    if not isinstance(records, list) or not records:
        raise MktoError("701", "input cannot be blank")
    if len(records) > BATCH_CAP:
        raise MktoError("1003", f"Batch size exceeds the limit of {BATCH_CAP}")
    return {"result": ctx.state.update_leads(records, _fail_ids(ctx))}


async def delete_leads(ctx: Ctx) -> dict[str, Any]:
    return {"result": ctx.state.delete_leads(_input_ids(ctx), _fail_ids(ctx))}


def _static_list(ctx: Ctx) -> int:
    lid = ctx.int_group()
    if lid not in ctx.state.w.static_lists:
        raise MktoError("1013", "Static list not found")
    return lid


async def list_add(ctx: Ctx) -> dict[str, Any]:
    lid = _static_list(ctx)
    return {"result": ctx.state.list_add(lid, _input_ids(ctx), _fail_ids(ctx))}


async def list_remove(ctx: Ctx) -> dict[str, Any]:
    lid = _static_list(ctx)
    return {"result": ctx.state.list_remove(lid, _input_ids(ctx), _fail_ids(ctx))}


async def program_status(ctx: Ctx) -> dict[str, Any]:
    pid = ctx.int_group()
    if pid not in ctx.state.w.programs:
        raise MktoError("1013", "Program not found")
    body = ctx.body if isinstance(ctx.body, dict) else {}
    status = body.get("statusName")
    if not isinstance(status, str) or not status:
        raise MktoError("701", "statusName cannot be blank")
    lead_ids = _input_ids(ctx, key="leadId")
    return {"result": ctx.state.set_program_status(pid, status, lead_ids, _fail_ids(ctx))}


def _campaign_record(ctx: Ctx, cid: int) -> dict[str, Any]:
    camp = ctx.state.w.smart_campaigns[cid]
    prog = ctx.state.w.programs[camp.program_id]
    return {
        "id": cid,
        "name": camp.name,
        "description": "",
        "type": camp.type,
        "programId": prog.id,
        "programName": prog.name,
        "workspaceName": "Default",
        "active": camp.is_active,
        "createdAt": iso_z(camp.created_at),
        "updatedAt": iso_z(camp.created_at),
    }


async def campaigns(ctx: Ctx) -> dict[str, Any]:
    chosen = sorted(ctx.state.w.smart_campaigns)
    if ctx.q("isTriggerable") == "true":
        w = ctx.state.w
        chosen = [
            c
            for c in chosen
            if w.smart_campaigns[c].is_active and w.smart_campaigns[c].is_requestable
        ]
    wanted = {int(v) for v in ctx.csv("id") if v.isdigit()}
    if wanted:
        chosen = [c for c in chosen if c in wanted]
    page = page_after(chosen, ctx, ctx.batch_size())
    page["result"] = [_campaign_record(ctx, c) for c in page.pop("ids")]
    return page


def _campaign_id(ctx: Ctx) -> int:
    cid = ctx.int_group()
    if cid not in ctx.state.w.smart_campaigns:
        raise MktoError("1013", "Campaign not found")
    return cid


async def campaign_by_id(ctx: Ctx) -> dict[str, Any]:
    return {"result": [_campaign_record(ctx, _campaign_id(ctx))]}


def _input_object(ctx: Ctx) -> dict[str, Any]:
    body = ctx.body if isinstance(ctx.body, dict) else {}
    inner = body.get("input", {})
    return inner if isinstance(inner, dict) else {}


async def trigger(ctx: Ctx) -> dict[str, Any]:
    cid = _campaign_id(ctx)
    inner = _input_object(ctx)
    leads = inner.get("leads")
    if not isinstance(leads, list) or not leads:
        raise MktoError("701", "leads cannot be blank")
    if len(leads) > TRIGGER_CAP:
        raise MktoError("1003", f"Number of leads exceeds the limit of {TRIGGER_CAP}")
    lead_ids = [item.get("id") for item in leads if isinstance(item, dict)]
    ctx.state.trigger(
        cid, [i for i in lead_ids if isinstance(i, int)], list(inner.get("tokens") or [])
    )
    return {"result": [{"id": cid}]}


async def schedule(ctx: Ctx) -> dict[str, Any]:
    cid = _campaign_id(ctx)
    inner = _input_object(ctx)
    run_at = None
    if inner.get("runAt"):
        try:
            run_at = datetime.fromisoformat(str(inner["runAt"]))
        except ValueError as exc:
            raise MktoError("1003", "Invalid runAt date") from exc
        if run_at.tzinfo is None:
            raise MktoError("1003", "runAt needs a UTC offset")
    ctx.state.schedule(cid, run_at, list(inner.get("tokens") or []))
    return {"result": [{"id": cid}]}


def register(router: Router) -> None:
    num = r"([^/]+)"
    router.add("POST", r"/rest/v1/leads\.json", sync_leads, write=True)
    router.add("POST", r"/rest/v1/leads/delete\.json", delete_leads, write=True)
    router.add("POST", rf"/rest/v1/lists/{num}/leads\.json", list_add, write=True)
    router.add("DELETE", rf"/rest/v1/lists/{num}/leads\.json", list_remove, write=True)
    router.add("POST", rf"/rest/v1/programs/{num}/members/status\.json", program_status, write=True)
    router.add("GET", r"/rest/v1/campaigns\.json", campaigns)
    router.add("GET", rf"/rest/v1/campaigns/{num}\.json", campaign_by_id)
    router.add("POST", rf"/rest/v1/campaigns/{num}/trigger\.json", trigger, write=True)
    router.add("POST", rf"/rest/v1/campaigns/{num}/schedule\.json", schedule, write=True)

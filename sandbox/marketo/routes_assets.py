"""Asset-API endpoints (``/rest/asset/v1``) and activity endpoints of the Marketo emulator.

The asset API pages with ``offset``/``maxReturn`` (≤200, default 20) and reports "nothing
found" as success with a warning and no ``result``; activities page with date-based tokens that
are *always* returned, and a page may be short while ``moreResult`` is still true.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from mopsgate.sandbox.marketo import ids
from mopsgate.sandbox.marketo.app import Ctx, Router, decode_token, encode_token
from mopsgate.sandbox.marketo.seed import iso_asset, iso_z
from mopsgate.sandbox.marketo.state import MktoError

NO_ASSETS = {"warnings": ["No assets found for the given search criteria."]}
SCAN_CAP = 3000  # activities scanned per call: pages may be short with moreResult true


def _offset_page(ctx: Ctx, records: list[dict[str, Any]]) -> dict[str, Any]:
    raw = ctx.q("offset") or "0"
    if not raw.isdigit():
        raise MktoError("1003", f"Invalid offset '{raw}'")
    start = int(raw)
    chunk = records[start : start + ctx.batch_size(cap=200, default=20)]
    return {"result": chunk} if chunk else dict(NO_ASSETS)


def _program(ctx: Ctx, pid: int) -> dict[str, Any]:
    prog = ctx.state.w.programs[pid]
    return {
        "id": pid,
        "name": prog.name,
        "description": "",
        "type": prog.type,
        "channel": prog.channel,
        "status": prog.status,
        "workspace": "Default",
        "folder": {"type": "Folder", "value": 19, "folderName": "Marketing Activities"},
        "url": f"https://app-sandbox.marketo.test/#PG{pid}A1",
        "createdAt": iso_asset(prog.created_at),
        "updatedAt": iso_asset(prog.created_at),
    }


async def programs(ctx: Ctx) -> dict[str, Any]:
    return _offset_page(ctx, [_program(ctx, p) for p in sorted(ctx.state.w.programs)])


async def program_by_id(ctx: Ctx) -> dict[str, Any]:
    pid = ctx.int_group()
    return {"result": [_program(ctx, pid)]} if pid in ctx.state.w.programs else dict(NO_ASSETS)


def _channel(ctx: Ctx, name: str) -> dict[str, Any]:
    ladder = ctx.state.w.channels[name]
    return {
        "id": 1 + sorted(ctx.state.w.channels).index(name),
        "name": name,
        "applicableProgramType": "program",
        "progressionStatuses": [
            {"name": n, "step": s, "success": ok, "hidden": False, "description": ""}
            for n, s, ok in ladder
        ],
    }


async def channels(ctx: Ctx) -> dict[str, Any]:
    return _offset_page(ctx, [_channel(ctx, n) for n in sorted(ctx.state.w.channels)])


async def channel_by_name(ctx: Ctx) -> dict[str, Any]:
    name = ctx.q("name") or ""
    known = name in ctx.state.w.channels
    return {"result": [_channel(ctx, name)]} if known else dict(NO_ASSETS)


def _smart_campaign(ctx: Ctx, cid: int) -> dict[str, Any]:
    c = ctx.state.w.smart_campaigns[cid]
    return {
        "id": cid,
        "name": c.name,
        "description": "",
        "type": c.type,
        "status": "Active" if c.is_active else "Inactive",
        "isSystem": False,
        "isActive": c.is_active,
        "isRequestable": c.is_requestable,
        "isCommunicationLimitEnabled": False,
        "recurrence": {"weekdayOnly": False},
        "qualificationRuleType": "once",
        "workspace": "Default",
        "smartListId": 7000 + cid,
        "flowId": 8000 + cid,
        "folder": {"id": c.program_id, "type": "Program"},
        "createdAt": iso_asset(c.created_at),
        "updatedAt": iso_asset(c.created_at),
    }


async def smart_campaigns(ctx: Ctx) -> dict[str, Any]:
    chosen = sorted(ctx.state.w.smart_campaigns)
    folder = ctx.q("folder")
    if folder:
        try:
            spec = json.loads(folder)
            fid, ftype = int(spec["id"]), str(spec["type"])
        except (ValueError, KeyError, TypeError) as exc:
            raise MktoError("1003", "Invalid folder") from exc
        chosen = [
            c
            for c in chosen
            if ftype == "Program" and ctx.state.w.smart_campaigns[c].program_id == fid
        ]
    return _offset_page(ctx, [_smart_campaign(ctx, c) for c in chosen])


async def smart_campaign_by_id(ctx: Ctx) -> dict[str, Any]:
    cid = ctx.int_group()
    if cid not in ctx.state.w.smart_campaigns:
        return dict(NO_ASSETS)
    return {"result": [_smart_campaign(ctx, cid)]}


def _rule(name: str, values: list[str]) -> dict[str, Any]:
    return {
        "id": 1,
        "name": name,
        "ruleTypeId": 1,
        "ruleType": name,
        "operator": "in",
        "conditions": [
            {"activityAttributeName": None, "operator": "in", "values": values, "isPrimary": True}
        ],
    }


async def smart_campaign_smart_list(ctx: Ctx) -> dict[str, Any]:
    cid = ctx.int_group()
    camp = ctx.state.w.smart_campaigns.get(cid)
    if camp is None:
        return dict(NO_ASSETS)
    item: dict[str, Any] = {"id": 7000 + cid, "name": camp.name, "workspace": "Default"}
    if ctx.q("includeRules") == "true":
        filters = (
            [_rule("Member of List", [camp.audience_list_name])] if camp.audience_list_name else []
        )
        item["rules"] = {"filterMatchType": "all", "triggers": [], "filters": filters}
    return {"result": [item]}


def _smart_list(ctx: Ctx, sid: int, rules: bool) -> dict[str, Any]:
    s = ctx.state.w.smart_lists[sid]
    item: dict[str, Any] = {
        "id": sid,
        "name": s.name,
        "description": s.description,
        "workspace": "Default",
        "folder": {"id": 31, "type": "Folder"},
        "createdAt": iso_asset(s.created_at),
        "updatedAt": iso_asset(s.created_at),
    }
    if rules:
        item["rules"] = {
            "filterMatchType": "all",
            "triggers": [],
            "filters": [_rule(s.rule_field, [s.rule_value])],
        }
    return item


async def smart_lists(ctx: Ctx) -> dict[str, Any]:
    rules = ctx.q("includeRules") == "true"
    return _offset_page(ctx, [_smart_list(ctx, s, rules) for s in sorted(ctx.state.w.smart_lists)])


async def smart_list_by_id(ctx: Ctx) -> dict[str, Any]:
    sid = ctx.int_group()
    if sid not in ctx.state.w.smart_lists:
        return dict(NO_ASSETS)
    return {"result": [_smart_list(ctx, sid, ctx.q("includeRules") == "true")]}


async def paging_token(ctx: Ctx) -> dict[str, Any]:
    raw = ctx.q("sinceDatetime")
    try:
        since = datetime.fromisoformat(raw or "")
    except ValueError as exc:
        raise MktoError("1003", "sinceDatetime is required (ISO 8601)") from exc
    key = iso_z(since) if since.tzinfo else raw or ""
    acts = ctx.state.w.activities
    lo, hi = 0, len(acts)
    while lo < hi:  # first activity at or after ``since`` (the log is in date order)
        mid = (lo + hi) // 2
        lo, hi = (mid + 1, hi) if acts[mid]["activityDate"] < key else (lo, mid)
    return {"nextPageToken": encode_token(lo)}


async def activities(ctx: Ctx) -> dict[str, Any]:
    token = ctx.q("nextPageToken")
    if not token:
        raise MktoError("1003", "nextPageToken is required")
    types = {int(v) for v in ctx.csv("activityTypeIds") if v.isdigit()}
    if not types or len(types) > 10:
        raise MktoError("1003", "activityTypeIds must hold 1 to 10 ids")
    leads = {int(v) for v in ctx.csv("leadIds") if v.isdigit()}
    if len(leads) > 30:
        raise MktoError("1003", "leadIds is limited to 30 ids")
    batch = ctx.batch_size()
    acts = ctx.state.w.activities
    pos, stop = decode_token(token), min(len(acts), decode_token(token) + SCAN_CAP)
    found: list[dict[str, Any]] = []
    while pos < stop and len(found) < batch:
        act = acts[pos]
        pos += 1
        if act["activityTypeId"] in types and (not leads or act["leadId"] in leads):
            found.append(act)
    return {"result": found, "moreResult": pos < len(acts), "nextPageToken": encode_token(pos)}


async def activity_types(ctx: Ctx) -> dict[str, Any]:
    return {
        "result": [
            {
                "id": i,
                "name": n,
                "description": n,
                "primaryAttribute": {"name": "Name", "dataType": "string"},
                "attributes": [],
            }
            for i, n in sorted(ids.ACTIVITY_TYPE_NAMES.items())
        ]
    }


def register(router: Router) -> None:
    num = r"([^/]+)"
    asset = "/rest/asset/v1"
    router.add("GET", rf"{asset}/programs\.json", programs)
    router.add("GET", rf"{asset}/program/{num}\.json", program_by_id)
    router.add("GET", rf"{asset}/channels\.json", channels)
    router.add("GET", rf"{asset}/channel/byName\.json", channel_by_name)
    router.add("GET", rf"{asset}/smartCampaigns\.json", smart_campaigns)
    router.add("GET", rf"{asset}/smartCampaign/{num}\.json", smart_campaign_by_id)
    router.add("GET", rf"{asset}/smartCampaign/{num}/smartList\.json", smart_campaign_smart_list)
    router.add("GET", rf"{asset}/smartLists\.json", smart_lists)
    router.add("GET", rf"{asset}/smartList/{num}\.json", smart_list_by_id)
    router.add("GET", r"/rest/v1/activities/pagingtoken\.json", paging_token)
    router.add("GET", r"/rest/v1/activities\.json", activities)
    router.add("GET", r"/rest/v1/activities/types\.json", activity_types)

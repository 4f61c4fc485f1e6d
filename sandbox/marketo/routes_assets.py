"""Asset-API endpoints (``/rest/asset/v1``) of the Marketo emulator: programs, channels, smart
campaigns (with their smart list's rules), smart lists and static lists.

The asset API pages with ``offset``/``maxReturn`` (≤200, default 20) and reports "nothing
found" as success with a warning and no ``result``.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.routing import Route

from mopsgate.sandbox.emulator_base import Gate
from mopsgate.sandbox.marketo.errors import MktoError
from mopsgate.sandbox.marketo.state import Program, SmartCampaign, SmartList, StaticList
from mopsgate.sandbox.marketo.wire import Ctx, Envelope, Payload, iso_asset

NO_ASSETS = {"warnings": ["No assets found for the given search criteria."]}


def _offset_page(ctx: Ctx, records: list[dict[str, Any]]) -> dict[str, Any]:
    raw = ctx.q("offset") or "0"
    if not raw.isdigit():
        raise MktoError("1003", f"Invalid offset '{raw}'")
    start = int(raw)
    chunk = records[start : start + ctx.batch_size(cap=200, default=20)]
    return {"result": chunk} if chunk else dict(NO_ASSETS)


def _program(prog: Program) -> dict[str, Any]:
    pid = prog.id
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


async def programs(ctx: Ctx) -> Payload:
    return _offset_page(ctx, [_program(p) for p in ctx.state.programs()])


async def program_by_id(ctx: Ctx) -> Payload:
    prog = ctx.state.program(ctx.id_param())
    return {"result": [_program(prog)]} if prog else dict(NO_ASSETS)


def _channel(ctx: Ctx, name: str) -> dict[str, Any]:
    channels = ctx.state.channels()
    ladder = channels[name]
    return {
        "id": 1 + sorted(channels).index(name),
        "name": name,
        "applicableProgramType": "program",
        "progressionStatuses": [
            {"name": n, "step": s, "success": ok, "hidden": False, "description": ""}
            for n, s, ok in ladder
        ],
    }


async def channels(ctx: Ctx) -> Payload:
    return _offset_page(ctx, [_channel(ctx, n) for n in sorted(ctx.state.channels())])


async def channel_by_name(ctx: Ctx) -> Payload:
    name = ctx.q("name") or ""
    known = ctx.state.channel(name) is not None
    return {"result": [_channel(ctx, name)]} if known else dict(NO_ASSETS)


def _smart_campaign(c: SmartCampaign) -> dict[str, Any]:
    cid = c.id
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


async def smart_campaigns(ctx: Ctx) -> Payload:
    chosen = ctx.state.smart_campaigns()
    folder = ctx.q("folder")
    if folder:
        try:
            spec = json.loads(folder)
            fid, ftype = int(spec["id"]), str(spec["type"])
        except (ValueError, KeyError, TypeError) as exc:
            raise MktoError("1003", "Invalid folder") from exc
        chosen = [c for c in chosen if ftype == "Program" and c.program_id == fid]
    return _offset_page(ctx, [_smart_campaign(c) for c in chosen])


async def smart_campaign_by_id(ctx: Ctx) -> Payload:
    camp = ctx.state.smart_campaign(ctx.id_param())
    return {"result": [_smart_campaign(camp)]} if camp else dict(NO_ASSETS)


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


async def smart_campaign_smart_list(ctx: Ctx) -> Payload:
    cid = ctx.id_param()
    camp = ctx.state.smart_campaign(cid)
    if camp is None:
        return dict(NO_ASSETS)
    item: dict[str, Any] = {"id": 7000 + cid, "name": camp.name, "workspace": "Default"}
    if ctx.q("includeRules") == "true":
        filters = (
            [_rule("Member of List", [camp.audience_list_name])] if camp.audience_list_name else []
        )
        item["rules"] = {"filterMatchType": "all", "triggers": [], "filters": filters}
    return {"result": [item]}


def _smart_list(s: SmartList, rules: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": s.id,
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


def _static_list(s: StaticList) -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "createdAt": iso_asset(s.created_at),
        "updatedAt": iso_asset(s.created_at),
        "folder": {"id": 31, "type": "Folder"},
        "computedUrl": f"https://app-sandbox.marketo.test/#ST{s.id}A1",
        "workspace": "Default",
    }


async def static_lists(ctx: Ctx) -> Payload:
    return _offset_page(ctx, [_static_list(s) for s in ctx.state.static_lists()])


async def static_list_by_id(ctx: Ctx) -> Payload:
    found = ctx.state.static_list(ctx.id_param())
    return {"result": [_static_list(found)]} if found else dict(NO_ASSETS)


async def delete_static_list(ctx: Ctx) -> Payload:
    """Delete Static List (``POST staticList/{id}/delete.json``): the list goes, its leads
    stay; a list that does not exist answers 702."""
    list_id = ctx.id_param()
    if ctx.state.static_list(list_id) is None:
        raise MktoError("702", f"Static list {list_id} not found")
    ctx.state.remove_static_list(list_id)
    return {"result": [{"id": list_id}]}


async def smart_lists(ctx: Ctx) -> Payload:
    rules = ctx.q("includeRules") == "true"
    return _offset_page(ctx, [_smart_list(s, rules) for s in ctx.state.smart_lists()])


async def smart_list_by_id(ctx: Ctx) -> Payload:
    found = ctx.state.smart_list(ctx.id_param())
    if found is None:
        return dict(NO_ASSETS)
    return {"result": [_smart_list(found, ctx.q("includeRules") == "true")]}


def routes(gate: Gate, envelope: Envelope) -> list[Route]:
    h, asset = envelope.handler, "/rest/asset/v1"
    return [
        gate.route(f"{asset}/programs.json", h(programs)),
        gate.route(f"{asset}/program/{{id}}.json", h(program_by_id)),
        gate.route(f"{asset}/channels.json", h(channels)),
        gate.route(f"{asset}/channel/byName.json", h(channel_by_name)),
        gate.route(f"{asset}/smartCampaigns.json", h(smart_campaigns)),
        gate.route(f"{asset}/smartCampaign/{{id}}.json", h(smart_campaign_by_id)),
        gate.route(f"{asset}/smartCampaign/{{id}}/smartList.json", h(smart_campaign_smart_list)),
        gate.route(f"{asset}/smartLists.json", h(smart_lists)),
        gate.route(f"{asset}/smartList/{{id}}.json", h(smart_list_by_id)),
        gate.route(f"{asset}/staticLists.json", h(static_lists)),
        gate.route(f"{asset}/staticList/{{id}}.json", h(static_list_by_id)),
        gate.route(
            f"{asset}/staticList/{{id}}/delete.json", h(delete_static_list), ["POST"], write=True
        ),
    ]

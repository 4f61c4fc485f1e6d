"""Lead-database read endpoints of the Marketo emulator (``/rest/v1``).

Shapes follow vendor-apis.md §2.4: keyset ``nextPageToken`` paging that omits the token on the
last page, exact-match ``filterType`` searches capped at 1,000 matches (1003), unknown filter
types refused with 1011, and ``describe2`` carrying ``searchableFields`` plus ``isSensitive``.
"""

from __future__ import annotations

from typing import Any

from mopsgate.sandbox.marketo.app import Ctx, Router, page_after
from mopsgate.sandbox.marketo.seed import iso_z
from mopsgate.sandbox.marketo.state import SEARCHABLE, SPECS, MktoError

DEFAULT_FIELDS = ("id", "email", "firstName", "lastName", "createdAt", "updatedAt")
MAX_FILTER_MATCHES = 1000
_DATA_TYPES = {"picklist": "string", "reference": "string"}


def requested_fields(ctx: Ctx) -> list[str]:
    names = ctx.csv("fields") or list(DEFAULT_FIELDS)
    for name in names:
        if name not in SPECS:
            raise MktoError("1006", f"Field '{name}' not found")
    return ["id", *[n for n in names if n != "id"]]


def lead_view(ctx: Ctx, lead_id: int, fields: list[str]) -> dict[str, Any]:
    lead = ctx.state.w.leads[lead_id]
    return {name: lead.get(name) for name in fields}


async def leads_by_filter(ctx: Ctx) -> dict[str, Any]:
    filter_type = ctx.q("filterType")
    if not filter_type:
        raise MktoError("1003", "filterType is required")
    if filter_type not in SEARCHABLE:
        raise MktoError("1011", f"Field '{filter_type}' not supported for filterType")
    values = ctx.csv("filterValues")
    if not values or len(values) > 300:
        raise MktoError("1003", "filterValues must hold 1 to 300 values")
    fields = requested_fields(ctx)
    matches = ctx.state.filter_leads(filter_type, values)
    if len(matches) > MAX_FILTER_MATCHES:
        raise MktoError("1003", "Too many results match the filter")
    page = page_after(matches, ctx, ctx.batch_size())
    page["result"] = [lead_view(ctx, lid, fields) for lid in page.pop("ids")]
    return page


async def lead_by_id(ctx: Ctx) -> dict[str, Any]:
    lid = ctx.int_group()
    fields = requested_fields(ctx)
    return {"result": [lead_view(ctx, lid, fields)] if lid in ctx.state.w.leads else []}


async def describe2(ctx: Ctx) -> dict[str, Any]:
    fields = [
        {
            "name": s.name,
            "displayName": s.label,
            "dataType": _DATA_TYPES.get(s.type, s.type),
            "length": 255,
            "updateable": not s.read_only,
            "crmManaged": False,
            "isSensitive": s.pii,
        }
        for s in SPECS.values()
    ]
    return {
        "result": [
            {"name": "API Lead", "searchableFields": [[f] for f in SEARCHABLE], "fields": fields}
        ]
    }


def list_record(ctx: Ctx, list_id: int) -> dict[str, Any]:
    lst = ctx.state.w.static_lists[list_id]
    return {
        "id": lst.id,
        "name": lst.name,
        "description": lst.description,
        "programName": None,
        "workspaceName": "Default",
        "createdAt": iso_z(lst.created_at),
        "updatedAt": iso_z(lst.created_at),
    }


async def lists(ctx: Ctx) -> dict[str, Any]:
    wanted_ids = {int(v) for v in ctx.csv("id") if v.isdigit()}
    wanted_names = set(ctx.csv("name"))
    chosen = sorted(
        lid
        for lid, lst in ctx.state.w.static_lists.items()
        if (not wanted_ids or lid in wanted_ids) and (not wanted_names or lst.name in wanted_names)
    )
    page = page_after(chosen, ctx, ctx.batch_size())
    page["result"] = [list_record(ctx, lid) for lid in page.pop("ids")]
    return page


def static_list_id(ctx: Ctx) -> int:
    lid = ctx.int_group()
    if lid not in ctx.state.w.static_lists:
        raise MktoError("1013", "Static list not found")
    return lid


async def list_by_id(ctx: Ctx) -> dict[str, Any]:
    return {"result": [list_record(ctx, static_list_id(ctx))]}


async def list_leads(ctx: Ctx) -> dict[str, Any]:
    lst = ctx.state.w.static_lists[static_list_id(ctx)]
    fields = requested_fields(ctx)
    page = page_after(sorted(lst.members), ctx, ctx.batch_size())
    page["result"] = [lead_view(ctx, lid, fields) for lid in page.pop("ids")]
    return page


def known_lead(ctx: Ctx) -> int:
    lid = ctx.int_group()
    if lid not in ctx.state.w.leads:
        raise MktoError("1004", "Lead not found")
    return lid


async def list_membership(ctx: Ctx) -> dict[str, Any]:
    lid = known_lead(ctx)
    member_of = sorted(
        list_id for list_id, lst in ctx.state.w.static_lists.items() if lid in lst.members
    )
    page = page_after(member_of, ctx, ctx.batch_size())
    w = ctx.state.w
    page["result"] = [
        {
            "listId": i,
            "createdAt": w.static_lists[i].members[lid],
            "updatedAt": w.static_lists[i].members[lid],
        }
        for i in page.pop("ids")
    ]
    return page


async def program_membership(ctx: Ctx) -> dict[str, Any]:
    lid = known_lead(ctx)
    w = ctx.state.w
    in_programs = sorted(pid for pid, prog in w.programs.items() if lid in prog.members)
    page = page_after(in_programs, ctx, ctx.batch_size())
    result = []
    for pid in page.pop("ids"):
        m = w.programs[pid].members[lid]
        result.append(
            {
                "id": pid,
                "progressionStatus": m.status,
                "acquiredBy": False,
                "reachedSuccess": m.reached_success,
                "membershipDate": m.membership_date,
                "isExhausted": False,
                "updatedAt": m.updated_at,
            }
        )
    page["result"] = result
    return page


async def program_members(ctx: Ctx) -> dict[str, Any]:
    pid = ctx.int_group()
    prog = ctx.state.w.programs.get(pid)
    if prog is None:
        raise MktoError("1013", "Program not found")
    chosen = sorted(prog.members)
    if ctx.q("filterType") == "leadId":
        wanted = {int(v) for v in ctx.csv("filterValues") if v.isdigit()}
        chosen = [lid for lid in chosen if lid in wanted]
    elif ctx.q("filterType"):
        raise MktoError("1003", f"Unsupported filterType '{ctx.q('filterType')}'")
    page = page_after(chosen, ctx, ctx.batch_size())
    result = []
    for seq, lid in enumerate(page.pop("ids")):
        m = prog.members[lid]
        result.append(
            {
                "seq": seq,
                "leadId": lid,
                "programId": pid,
                "acquiredBy": False,
                "progressionStatus": m.status,
                "statusName": m.status,
                "reachedSuccess": m.reached_success,
                "membershipDate": m.membership_date,
                "updatedAt": m.updated_at,
            }
        )
    page["result"] = result
    return page


async def sales_persons(ctx: Ctx) -> dict[str, Any]:
    """``filterType`` is optional here, though Marketo documents it as required (README.md)."""
    people = ctx.state.w.sales_persons
    chosen = sorted(people)
    filter_type, values = ctx.q("filterType"), set(ctx.csv("filterValues"))
    if filter_type:
        if filter_type not in ("id", "externalSalesPersonId", "email"):
            raise MktoError("1003", f"Unsupported filterType '{filter_type}'")
        chosen = [i for i in chosen if str(people[i][filter_type]) in values]
    page = page_after(chosen, ctx, ctx.batch_size())
    page["result"] = [dict(people[i]) for i in page.pop("ids")]
    return page


async def usage(ctx: Ctx) -> dict[str, Any]:
    used = ctx.request.app.state.gate.daily_used
    return {
        "result": [
            {
                "date": ctx.state.now_iso()[:10],
                "total": used,
                "users": [{"userId": "api-user@sandbox.test", "count": used}],
            }
        ]
    }


def register(router: Router) -> None:
    num = r"([^/]+)"
    router.add("GET", r"/rest/v1/leads\.json", leads_by_filter)
    router.add("GET", rf"/rest/v1/lead/{num}\.json", lead_by_id)
    router.add("GET", r"/rest/v1/leads/describe2\.json", describe2)
    router.add("GET", r"/rest/v1/lists\.json", lists)
    router.add("GET", rf"/rest/v1/lists/{num}\.json", list_by_id)
    router.add("GET", rf"/rest/v1/lists?/{num}/leads\.json", list_leads)
    router.add("GET", rf"/rest/v1/leads/{num}/listMembership\.json", list_membership)
    router.add("GET", rf"/rest/v1/leads/{num}/programMembership\.json", program_membership)
    router.add("GET", rf"/rest/v1/programs/{num}/members\.json", program_members)
    router.add("GET", r"/rest/v1/salespersons\.json", sales_persons)
    router.add("GET", r"/rest/v1/stats/usage\.json", usage)

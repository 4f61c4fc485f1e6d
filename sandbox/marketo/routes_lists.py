"""Static-list endpoints of the Marketo emulator: lists (by id or name), a list's leads, a lead's
list memberships, whether leads are members (``ismember``), and adding and removing members
(≤300 per call)."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from mopsgate.sandbox.emulator_base import Gate
from mopsgate.sandbox.faults import Faults
from mopsgate.sandbox.marketo.errors import MktoError, skipped
from mopsgate.sandbox.marketo.routes_leads import lead_view, requested_fields
from mopsgate.sandbox.marketo.rules import InstanceRules
from mopsgate.sandbox.marketo.state import StaticList
from mopsgate.sandbox.marketo.wire import Ctx, Envelope, Payload, input_ids, iso_z, page_after


def list_record(lst: StaticList) -> dict[str, Any]:
    return {
        "id": lst.id,
        "name": lst.name,
        "description": lst.description,
        "programName": None,
        "workspaceName": "Default",
        "createdAt": iso_z(lst.created_at),
        "updatedAt": iso_z(lst.created_at),
    }


def static_list(ctx: Ctx) -> StaticList:
    lst = ctx.state.static_list(ctx.id_param())
    if lst is None:
        raise MktoError("1013", "Static list not found")
    return lst


def known_lead(ctx: Ctx) -> int:
    lid = ctx.id_param()
    if ctx.state.lead(lid) is None:
        raise MktoError("1004", "Lead not found")
    return lid


class ListRoutes:
    def __init__(self, rules: InstanceRules, faults: Faults) -> None:
        self.rules = rules
        self.faults = faults

    async def lists(self, ctx: Ctx) -> Payload:
        wanted_ids = {int(v) for v in ctx.csv("id") if v.isdigit()}
        wanted_names = set(ctx.csv("name"))
        chosen = {
            lst.id: lst
            for lst in ctx.state.static_lists()
            if (not wanted_ids or lst.id in wanted_ids)
            and (not wanted_names or lst.name in wanted_names)
        }
        page = page_after(sorted(chosen), ctx, ctx.batch_size())
        page["result"] = [list_record(chosen[lid]) for lid in page.pop("ids")]
        return page

    async def list_by_id(self, ctx: Ctx) -> Payload:
        return {"result": [list_record(static_list(ctx))]}

    async def list_leads(self, ctx: Ctx) -> Payload:
        lst = static_list(ctx)
        fields = requested_fields(ctx)
        page = page_after(sorted(lst.members), ctx, ctx.batch_size())
        page["result"] = [lead_view(ctx, lid, fields) for lid in page.pop("ids")]
        return page

    async def list_membership(self, ctx: Ctx) -> Payload:
        member_of = ctx.state.lists_of(known_lead(ctx))
        page = page_after(sorted(member_of), ctx, ctx.batch_size())
        page["result"] = [
            {"listId": i, "createdAt": member_of[i], "updatedAt": member_of[i]}
            for i in page.pop("ids")
        ]
        return page

    async def is_member(self, ctx: Ctx) -> Payload:
        lst = static_list(ctx)
        out: list[dict[str, Any]] = []
        for lid in input_ids(ctx):
            if not isinstance(lid, int) or ctx.state.lead(lid) is None:
                out.append(skipped("1004", "Lead not found", id=lid))
            else:
                out.append(
                    {"id": lid, "status": "memberof" if lid in lst.members else "notmemberof"}
                )
        return {"result": out}

    async def add(self, ctx: Ctx) -> Payload:
        lst = static_list(ctx)
        failing = set(self.faults.fail_record_ids)
        return {"result": self.rules.list_add(lst.id, input_ids(ctx), failing)}

    async def remove(self, ctx: Ctx) -> Payload:
        lst = static_list(ctx)
        failing = set(self.faults.fail_record_ids)
        return {"result": self.rules.list_remove(lst.id, input_ids(ctx), failing)}


def routes(gate: Gate, envelope: Envelope, rules: InstanceRules, faults: Faults) -> list[Route]:
    r, h = ListRoutes(rules, faults), envelope.handler
    members = "/rest/v1/lists/{id}/leads.json"
    return [
        gate.route("/rest/v1/lists.json", h(r.lists)),
        gate.route("/rest/v1/lists/{id}.json", h(r.list_by_id)),
        gate.route(members, h(r.list_leads)),
        gate.route("/rest/v1/list/{id}/leads.json", h(r.list_leads)),
        gate.route(members, h(r.add), ["POST"], write=True),
        gate.route(members, h(r.remove), ["DELETE"], write=True),
        gate.route("/rest/v1/lists/{id}/leads/ismember.json", h(r.is_member)),
        gate.route("/rest/v1/leads/{id}/listMembership.json", h(r.list_membership)),
    ]

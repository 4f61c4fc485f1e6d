"""Lead endpoints of the Marketo emulator (``/rest/v1``): exact-match ``filterType`` searches
capped at 1,000 matches (1003), unknown filter types refused with 1011, a lead by id, v1
``describe`` and ``describe2`` (with ``searchableFields`` and ``isSensitive``), Sync Leads and
Delete Leads (``POST leads/delete.json`` or ``DELETE leads.json``).

Sync Leads takes ``createOrUpdate`` (the default), ``createOnly`` and ``updateOnly``, deduped on
``lookupField`` (``email`` by default, ``id`` with ``updateOnly`` only, or another searchable
field); ``createDuplicate`` is not emulated.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from mopsgate.connectors.schema import MARKETO_LEAD
from mopsgate.sandbox.emulator_base import Gate
from mopsgate.sandbox.faults import Faults
from mopsgate.sandbox.marketo.errors import MktoError
from mopsgate.sandbox.marketo.rules import InstanceRules
from mopsgate.sandbox.marketo.wire import MAX_BATCH, Ctx, Envelope, Payload, input_ids, page_after

SPECS = {spec.name: spec for spec in MARKETO_LEAD}
# filterType values the emulator answers (and describe2 advertises as searchable).
SEARCHABLE = (
    "email",
    "id",
    "company",
    "lastName",
    "firstName",
    "mktoLifecycleStage",
    "externalSalesPersonId",
)
DEFAULT_FIELDS = ("id", "email", "firstName", "lastName", "createdAt", "updatedAt")
ACTIONS = ("createOrUpdate", "createOnly", "updateOnly")
MAX_FILTER_MATCHES = 1000
_DATA_TYPES = {"picklist": "string", "reference": "string"}


def requested_fields(ctx: Ctx) -> list[str]:
    names = ctx.csv("fields") or list(DEFAULT_FIELDS)
    for name in names:
        if name not in SPECS:
            raise MktoError("1006", f"Field '{name}' not found")
    return ["id", *[n for n in names if n != "id"]]


def lead_view(ctx: Ctx, lead_id: int, fields: list[str]) -> dict[str, Any]:
    lead = ctx.state.lead(lead_id) or {}
    return {name: lead.get(name) for name in fields}


class LeadRoutes:
    def __init__(self, rules: InstanceRules, faults: Faults) -> None:
        self.rules = rules
        self.faults = faults

    async def leads_by_filter(self, ctx: Ctx) -> Payload:
        filter_type = ctx.q("filterType")
        if not filter_type:
            raise MktoError("1003", "filterType is required")
        if filter_type not in SEARCHABLE:
            raise MktoError("1011", f"Field '{filter_type}' not supported for filterType")
        values = ctx.csv("filterValues")
        if not values or len(values) > 300:
            raise MktoError("1003", "filterValues must hold 1 to 300 values")
        fields = requested_fields(ctx)
        matches = ctx.state.find_leads(filter_type, values)
        if len(matches) > MAX_FILTER_MATCHES:
            raise MktoError("1003", "Too many results match the filter")
        page = page_after(matches, ctx, ctx.batch_size())
        page["result"] = [lead_view(ctx, lid, fields) for lid in page.pop("ids")]
        return page

    async def lead_by_id(self, ctx: Ctx) -> Payload:
        lid = ctx.id_param()
        fields = requested_fields(ctx)
        return {"result": [lead_view(ctx, lid, fields)] if ctx.state.lead(lid) else []}

    async def describe2(self, ctx: Ctx) -> Payload:
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
        searchable = [[f] for f in SEARCHABLE]
        return {"result": [{"name": "API Lead", "searchableFields": searchable, "fields": fields}]}

    async def describe(self, ctx: Ctx) -> Payload:
        """v1 describe: each field's display name, type and REST / SOAP names."""
        return {
            "result": [
                {
                    "id": n,
                    "displayName": s.label,
                    "dataType": _DATA_TYPES.get(s.type, s.type),
                    "length": 255,
                    "rest": {"name": s.name, "readOnly": s.read_only},
                    "soap": {"name": s.name[:1].upper() + s.name[1:], "readOnly": s.read_only},
                }
                for n, s in enumerate(SPECS.values(), start=1)
            ]
        }

    async def sync_leads(self, ctx: Ctx) -> Payload:
        body = ctx.body if isinstance(ctx.body, dict) else {}
        action, lookup = body.get("action", "createOrUpdate"), body.get("lookupField", "email")
        if action not in ACTIONS:
            raise MktoError("1003", f"Invalid action '{action}' (one of {', '.join(ACTIONS)})")
        if lookup not in SEARCHABLE:
            raise MktoError("1006", f"Field '{lookup}' not found as a lookup field")
        if lookup == "id" and action != "updateOnly":
            raise MktoError("1003", "lookupField 'id' can only be used with action 'updateOnly'")
        records = body.get("input")
        if not isinstance(records, list) or not records:
            raise MktoError("701", "input cannot be blank")
        if len(records) > MAX_BATCH:
            raise MktoError("1003", f"Batch size exceeds the limit of {MAX_BATCH}")
        failing = set(self.faults.fail_record_ids)
        return {"result": self.rules.sync_leads(records, action, lookup, failing)}

    async def merge(self, ctx: Ctx) -> Payload:
        """Merge Leads (``POST leads/{id}/merge.json?leadId=…`` or ``leadIds=a,b,c``)."""
        raw = ctx.request.path_params["id"]
        losers = [int(v) for v in (ctx.csv("leadIds") or ctx.csv("leadId")) if v.isdigit()]
        if not raw.isdigit() or not losers:
            raise MktoError("1003", "a winning lead id and leadId or leadIds are required")
        self.rules.merge_leads(int(raw), losers)
        return {}

    async def delete_leads(self, ctx: Ctx) -> Payload:
        failing = set(self.faults.fail_record_ids)
        return {"result": self.rules.delete_leads(input_ids(ctx), failing)}


def routes(gate: Gate, envelope: Envelope, rules: InstanceRules, faults: Faults) -> list[Route]:
    r, h = LeadRoutes(rules, faults), envelope.handler
    return [
        gate.route("/rest/v1/leads.json", h(r.leads_by_filter)),
        gate.route("/rest/v1/leads.json", h(r.sync_leads), ["POST"], write=True),
        gate.route("/rest/v1/leads.json", h(r.delete_leads), ["DELETE"], write=True),
        gate.route("/rest/v1/leads/describe.json", h(r.describe)),
        gate.route("/rest/v1/leads/describe2.json", h(r.describe2)),
        gate.route("/rest/v1/leads/delete.json", h(r.delete_leads), ["POST"], write=True),
        gate.route("/rest/v1/lead/{id}.json", h(r.lead_by_id)),
        gate.route("/rest/v1/leads/{id}/merge.json", h(r.merge), ["POST"], write=True),
    ]

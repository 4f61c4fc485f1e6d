"""Activity endpoints of the Marketo emulator: paging tokens from a date, the activity log by type
(≤10 type ids) and lead (≤30 ids), lead changes (New Lead and the data value changes of the
fields asked for), and the activity types.

Activities page with date-based tokens that are *always* returned, and a page may be short while
``moreResult`` is still true (at most ``SCAN_CAP`` activities are scanned per call).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from starlette.routing import Route

from mopsgate.connectors.schema import MARKETO_LEAD
from mopsgate.sandbox.emulator_base import Gate
from mopsgate.sandbox.marketo import ids
from mopsgate.sandbox.marketo.errors import MktoError
from mopsgate.sandbox.marketo.state import Activity
from mopsgate.sandbox.marketo.wire import Ctx, Envelope, Payload, decode_token, encode_token, iso_z

SCAN_CAP = 3000
NEW_LEAD, VALUE_CHANGES = 12, (13, 22)  # New Lead; Change Data Value, Change Score
FIELD_IDS = {spec.name: n for n, spec in enumerate(MARKETO_LEAD, start=1)}  # describe's ids
FIELD_BY_LABEL = {spec.label: spec.name for spec in MARKETO_LEAD}


async def paging_token(ctx: Ctx) -> Payload:
    raw = ctx.q("sinceDatetime")
    try:
        since = datetime.fromisoformat(raw or "")
    except ValueError as exc:
        raise MktoError("1003", "sinceDatetime is required (ISO 8601)") from exc
    key = iso_z(since) if since.tzinfo else raw or ""
    return {"nextPageToken": encode_token(ctx.state.activity_position(key))}


def _scan(ctx: Ctx, keep: Callable[[Activity], Activity | None]) -> Payload:
    """One page of the log from the token's position: what ``keep`` makes of each activity
    (None: left out), for the leads asked for (``leadIds``, ``listId``), at most ``SCAN_CAP``
    activities scanned."""
    token = ctx.q("nextPageToken")
    if not token:
        raise MktoError("1003", "nextPageToken is required")
    leads = {int(v) for v in ctx.csv("leadIds") if v.isdigit()}
    if len(leads) > 30:
        raise MktoError("1003", "leadIds is limited to 30 ids")
    list_id = ctx.q("listId")
    if list_id:  # the members of a static list, as another way to name the leads
        lst = ctx.state.static_list(int(list_id)) if list_id.isdigit() else None
        if lst is None:
            raise MktoError("1013", "Static list not found")
        leads |= set(lst.members)
    batch = ctx.batch_size()
    start, total = decode_token(token), ctx.state.activity_count()
    pos = start
    found: list[Activity] = []
    for act in ctx.state.activities(start, min(total, start + SCAN_CAP)):
        if len(found) >= batch:
            break
        pos += 1
        kept = keep(act) if not leads or act["leadId"] in leads else None
        if kept is not None:
            found.append(kept)
    return {"result": found, "moreResult": pos < total, "nextPageToken": encode_token(pos)}


async def activities(ctx: Ctx) -> Payload:
    types = {int(v) for v in ctx.csv("activityTypeIds") if v.isdigit()}
    if not types or len(types) > 10:
        raise MktoError("1003", "activityTypeIds must hold 1 to 10 ids")
    return _scan(ctx, lambda act: act if act["activityTypeId"] in types else None)


async def lead_changes(ctx: Ctx) -> Payload:
    """New Lead activities, and the data value (and score) changes of ``fields``, each with a
    ``fields`` entry naming the field, its old and its new value."""
    wanted = set(ctx.csv("fields"))
    if not wanted:
        raise MktoError("1003", "fields is required")
    unknown = sorted(wanted - set(FIELD_IDS))
    if unknown:
        raise MktoError("1006", f"Field '{unknown[0]}' not found")

    def change(act: Activity) -> Activity | None:
        if act["activityTypeId"] == NEW_LEAD:
            return {**act, "fields": []}
        name = FIELD_BY_LABEL.get(str(act.get("primaryAttributeValue")))
        if act["activityTypeId"] not in VALUE_CHANGES or name not in wanted:
            return None
        values = {a["name"]: a["value"] for a in act.get("attributes", [])}
        entry = {
            "id": FIELD_IDS[name],
            "name": name,
            "newValue": values.get("New Value"),
            "oldValue": values.get("Old Value"),
        }
        return {**act, "fields": [entry]}

    return _scan(ctx, change)


async def activity_types(ctx: Ctx) -> Payload:
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


def routes(gate: Gate, envelope: Envelope) -> list[Route]:
    h = envelope.handler
    return [
        gate.route("/rest/v1/activities/pagingtoken.json", h(paging_token)),
        gate.route("/rest/v1/activities.json", h(activities)),
        gate.route("/rest/v1/activities/leadchanges.json", h(lead_changes)),
        gate.route("/rest/v1/activities/types.json", h(activity_types)),
    ]

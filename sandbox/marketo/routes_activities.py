"""Activity endpoints of the Marketo emulator: paging tokens from a date, the activity log by type
(≤10 type ids) and lead (≤30 ids), and the activity types.

Activities page with date-based tokens that are *always* returned, and a page may be short while
``moreResult`` is still true (at most ``SCAN_CAP`` activities are scanned per call).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.routing import Route

from mopsgate.sandbox.emulator_base import Gate
from mopsgate.sandbox.marketo import ids
from mopsgate.sandbox.marketo.errors import MktoError
from mopsgate.sandbox.marketo.wire import Ctx, Envelope, Payload, decode_token, encode_token, iso_z

SCAN_CAP = 3000


async def paging_token(ctx: Ctx) -> Payload:
    raw = ctx.q("sinceDatetime")
    try:
        since = datetime.fromisoformat(raw or "")
    except ValueError as exc:
        raise MktoError("1003", "sinceDatetime is required (ISO 8601)") from exc
    key = iso_z(since) if since.tzinfo else raw or ""
    return {"nextPageToken": encode_token(ctx.state.activity_position(key))}


async def activities(ctx: Ctx) -> Payload:
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
    start, total = decode_token(token), ctx.state.activity_count()
    pos = start
    found: list[dict[str, Any]] = []
    for act in ctx.state.activities(start, min(total, start + SCAN_CAP)):
        if len(found) >= batch:
            break
        pos += 1
        if act["activityTypeId"] in types and (not leads or act["leadId"] in leads):
            found.append(act)
    return {"result": found, "moreResult": pos < total, "nextPageToken": encode_token(pos)}


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
        gate.route("/rest/v1/activities/types.json", h(activity_types)),
    ]

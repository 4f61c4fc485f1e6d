"""Marketing routes of the HubSpot emulator: campaigns (with report metrics, attributed contacts
and assets), marketing emails, and the legacy per-recipient email events."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mopsgate.connectors.hubspot.paths import EMAIL_EVENTS, Paths
from mopsgate.sandbox.emulator_base import Gate
from mopsgate.sandbox.hubspot import ids
from mopsgate.sandbox.hubspot.errors import not_found, validation_error
from mopsgate.sandbox.hubspot.state import PortalCampaign, PortalState
from mopsgate.sandbox.hubspot.wire import int_param, paging


def campaign_json(c: PortalCampaign) -> dict[str, Any]:
    return {
        "id": c.guid,
        "properties": {
            "hs_name": c.name,
            "hs_campaign_status": c.status,
            "hs_start_date": c.start_date,
            "hs_end_date": None,
            "hs_notes": c.notes,
            "hs_audience": None,
            "hs_currency_code": "USD",
        },
        "createdAt": c.created_at,
        "updatedAt": c.created_at,
        "businessUnits": [{"id": 0}],
    }


def _page(items: list[Any], request: Request, default: int, cap: int) -> tuple[list[Any], int]:
    limit = int_param(request.query_params.get("limit"), "limit", default, cap)
    after = int_param(request.query_params.get("after"), "after", 0)
    return items[after : after + limit], after + limit if after + limit < len(items) else -1


class CampaignRoutes:
    def __init__(self, state: PortalState, p: Paths) -> None:
        self.state = state
        self.p = p

    def find(self, request: Request) -> PortalCampaign | Response:
        guid = request.path_params["guid"]
        if not ids.GUID.match(guid):
            return validation_error(
                f"{guid!r} is not a campaign GUID (the marketing campaigns "
                "API takes the GUID, not the CRM object id)"
            )
        found = self.state.campaign(guid)
        return found if found is not None else not_found(f"Campaign {guid!r}")

    async def list_campaigns(self, request: Request) -> Response:
        rows = self.state.campaigns()  # portal order: oldest first
        page, nxt = _page(rows, request, 50, 100)
        return JSONResponse(
            {
                "results": [campaign_json(c) for c in page],
                "total": len(rows),
                **paging(str(nxt) if nxt >= 0 else None, self.p.campaigns),
            }
        )

    async def get_campaign(self, request: Request) -> Response:
        c = self.find(request)
        return c if isinstance(c, Response) else JSONResponse(campaign_json(c))

    async def metrics(self, request: Request) -> Response:
        c = self.find(request)
        if isinstance(c, Response):
            return c
        kinds = list(c.members.values())
        return JSONResponse(
            {
                "sessions": 10 * len(kinds),
                "newContactsFirstTouch": kinds.count("contactFirstTouch"),
                "newContactsLastTouch": kinds.count("contactLastTouch"),
                "influencedContacts": kinds.count("influencedContacts"),
            }
        )

    async def report_contacts(self, request: Request) -> Response:
        c = self.find(request)
        if isinstance(c, Response):
            return c
        kind = request.path_params["contact_type"]
        if kind not in ids.CONTACT_TYPES:
            return validation_error(f"contactType must be one of {list(ids.CONTACT_TYPES)}")
        rows = sorted((cid for cid, k in c.members.items() if k == kind), key=int)
        page, nxt = _page(rows, request, 100, 1000)
        return JSONResponse(
            {"results": [{"id": cid} for cid in page], **paging(str(nxt) if nxt >= 0 else None, "")}
        )

    async def assets(self, request: Request) -> Response:
        c = self.find(request)
        if isinstance(c, Response):
            return c
        kind = request.path_params["asset_type"]
        rows: list[dict[str, Any]] = []
        if kind == "MARKETING_EMAIL" and c.email_id:
            rows = [{"id": c.email_id, "name": f"{c.name} email"}]
        elif kind == "OBJECT_LIST" and c.list_id:
            lst = self.state.list_by_id(c.list_id)
            rows = [{"id": c.list_id, "name": lst.name if lst else ""}]
        return JSONResponse({"results": rows})

    async def get_email(self, request: Request) -> Response:
        eid = request.path_params["email_id"]
        for c in self.state.campaigns():
            if c.email_id == eid:
                return JSONResponse(
                    {
                        "id": eid,
                        "name": f"{c.name} email",
                        "campaign": c.guid,
                        "allEmailCampaignIds": [c.email_campaign_id],
                        "state": "PUBLISHED",
                        "type": "BATCH_EMAIL",
                    }
                )
        return not_found(f"Email {eid!r}")

    async def events(self, request: Request) -> Response:
        q = request.query_params
        recipient = (q.get("recipient") or "").strip().lower()
        kind, ecid = q.get("eventType"), q.get("campaignId")
        start = int_param(q.get("startTimestamp"), "startTimestamp", 0)
        end = int_param(q.get("endTimestamp"), "endTimestamp", 2**62)
        offset = int_param(q.get("offset"), "offset", 0)
        limit = int_param(q.get("limit"), "limit", 100, 1000)
        hits = [
            e
            for e in self.state.events()
            if (not recipient or e.recipient.lower() == recipient)
            and (not kind or e.type == kind)
            and (not ecid or e.email_campaign_id == ecid)
            and start <= e.created_ms <= end
        ]
        page = hits[offset : offset + limit]
        events = [
            {
                "id": e.id,
                "created": e.created_ms,
                "type": e.type,
                "recipient": e.recipient,
                "portalId": 4242,
                "appId": 0,
                "emailCampaignId": int(e.email_campaign_id) if e.email_campaign_id else None,
                **e.extra,
            }
            for e in page
        ]
        more = offset + len(page) < len(hits)
        return JSONResponse({"events": events, "hasMore": more, "offset": str(offset + len(page))})


def routes(gate: Gate, state: PortalState, p: Paths) -> list[Route]:
    r = CampaignRoutes(state, p)
    g = p.campaigns + "/{guid}"
    return [
        gate.route(p.campaigns, r.list_campaigns),
        gate.route(g, r.get_campaign),
        gate.route(g + "/reports/metrics", r.metrics),
        gate.route(g + "/reports/contacts/{contact_type}", r.report_contacts),
        gate.route(g + "/assets/{asset_type}", r.assets),
        gate.route(p.emails + "/{email_id}", r.get_email),
    ]


def shared_routes(gate: Gate, state: PortalState) -> list[Route]:
    """Routes that exist in one version only, whatever family the client is configured for."""
    return [gate.route(EMAIL_EVENTS, CampaignRoutes(state, Paths()).events)]

"""Marketing-side routes of the emulator: campaigns (+ reports and assets), marketing
emails, legacy email events, the 2026-03 batch unsubscribe-all, daily API usage and the
OAuth token endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mopsgate.connectors.hubspot.paths import (
    DAILY_USAGE,
    EMAIL_EVENTS,
    OAUTH_TOKEN,
    UNSUBSCRIBE_ALL_BATCH,
    Paths,
)
from mopsgate.sandbox.hubspot import ids
from mopsgate.sandbox.hubspot.http import (
    BadInput,
    batch_inputs,
    guard,
    hs_error,
    int_param,
    json_body,
    not_found,
    paging,
    record_error,
    validation_error,
)
from mopsgate.sandbox.hubspot.state import PortalCampaign, now_iso

if TYPE_CHECKING:
    from mopsgate.sandbox.hubspot.emulator import HubSpotEmulator


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


class _MarketingRoutes:
    def __init__(self, emu: HubSpotEmulator, p: Paths) -> None:
        self.emu = emu
        self.p = p
        self.state = emu.state

    def find(self, request: Request) -> PortalCampaign | Response:
        guid = request.path_params["guid"]
        if not ids.GUID.match(guid):
            return validation_error(
                f"{guid!r} is not a campaign GUID (the marketing campaigns "
                "API takes the GUID, not the CRM object id)"
            )
        found = self.state.campaigns.get(guid)
        return found if found is not None else not_found(f"Campaign {guid!r}")

    async def list_campaigns(self, request: Request) -> Response:
        rows = list(self.state.campaigns.values())  # portal order: oldest first
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
            rows = [{"id": c.list_id, "name": self.state.lists[c.list_id].name}]
        return JSONResponse({"results": rows})

    async def get_email(self, request: Request) -> Response:
        eid = request.path_params["email_id"]
        for c in self.state.campaigns.values():
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

    def routes(self) -> list[Route]:
        g = self.p.campaigns + "/{guid}"
        return [
            Route(self.p.campaigns, guard(self.list_campaigns), methods=["GET"]),
            Route(g, guard(self.get_campaign), methods=["GET"]),
            Route(g + "/reports/metrics", guard(self.metrics), methods=["GET"]),
            Route(
                g + "/reports/contacts/{contact_type}", guard(self.report_contacts), methods=["GET"]
            ),
            Route(g + "/assets/{asset_type}", guard(self.assets), methods=["GET"]),
            Route(self.p.emails + "/{email_id}", guard(self.get_email), methods=["GET"]),
        ]


def routes(emu: HubSpotEmulator, p: Paths) -> list[Route]:
    return _MarketingRoutes(emu, p).routes()


def shared_routes(emu: HubSpotEmulator) -> list[Route]:
    """Routes that exist in one version only, whatever family the client is configured for."""
    return [
        Route(EMAIL_EVENTS, guard(lambda r: _events(emu, r)), methods=["GET"]),
        Route(UNSUBSCRIBE_ALL_BATCH, guard(lambda r: _unsubscribe_all(emu, r)), methods=["POST"]),
        Route(DAILY_USAGE, guard(lambda r: _usage(emu, r)), methods=["GET"]),
        Route(OAUTH_TOKEN, guard(lambda r: _token(emu, r)), methods=["POST"]),
    ]


async def _events(emu: HubSpotEmulator, request: Request) -> Response:
    q = request.query_params
    recipient = (q.get("recipient") or "").strip().lower()
    kind, ecid = q.get("eventType"), q.get("campaignId")
    start = int_param(q.get("startTimestamp"), "startTimestamp", 0)
    end = int_param(q.get("endTimestamp"), "endTimestamp", 2**62)
    offset = int_param(q.get("offset"), "offset", 0)
    limit = int_param(q.get("limit"), "limit", 100, 1000)
    hits = [
        e
        for e in emu.state.events
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


async def _unsubscribe_all(emu: HubSpotEmulator, request: Request) -> Response:
    if request.query_params.get("channel", "EMAIL") != "EMAIL":
        raise BadInput("channel must be EMAIL")
    inputs = batch_inputs(await json_body(request))
    results, failed, unknown = [], [], []
    for address in inputs:
        if not isinstance(address, str):
            raise BadInput("inputs must be email address strings")
        owners = emu.state.by_email.get(address.strip().lower(), set())
        if owners & emu.core.faults.fail_record_ids:
            failed.append(address)
            continue
        if not owners:
            unknown.append(address)
            continue
        emu.state.unsubscribe_all(address)
        results.append(_unsubscribed(address))
    errors = []
    if unknown:
        errors.append(record_error("OBJECT_NOT_FOUND", "No contact has these addresses", unknown))
    if failed:
        errors.append(
            record_error(
                "VALIDATION_ERROR",
                "Simulated record failure (emulator fault fail_record_ids)",
                failed,
            )
        )
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": now_iso(),
        "completedAt": now_iso(),
    }
    if errors:
        body |= {"errors": errors, "numErrors": len(unknown) + len(failed)}
    return JSONResponse(body, status_code=207 if errors else 200)


def _unsubscribed(address: str) -> dict[str, Any]:
    status = {
        "channel": "EMAIL",
        "subscriberIdString": address,
        "subscriptionId": 1,
        "status": "UNSUBSCRIBED",
        "source": "Public API",
        "timestamp": now_iso(),
    }
    return {"subscriberIdString": address, "statuses": [status]}


async def _usage(emu: HubSpotEmulator, request: Request) -> Response:
    return JSONResponse(
        {
            "results": [
                {
                    "name": "private-apps-api-calls-daily",
                    "usageLimit": emu.daily_limit,
                    "currentUsage": emu.daily_used,
                    "collectedAt": now_iso(),
                    "fetchStatus": "SUCCESS",
                    "resetsAt": "2099-01-01T00:00:00.000Z",
                }
            ]
        }
    )


async def _token(emu: HubSpotEmulator, request: Request) -> Response:
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    ok = (
        form.get("grant_type") == "refresh_token"
        and form.get("refresh_token") == ids.SANDBOX_REFRESH_TOKEN
        and form.get("client_id") == ids.SANDBOX_CLIENT_ID
        and form.get("client_secret") == ids.SANDBOX_CLIENT_SECRET
    )
    if not ok:
        return hs_error(
            400, "missing or unknown refresh token, client id or secret", "BAD_REFRESH_TOKEN"
        )
    token, ttl = emu.core.issue_token()
    return JSONResponse(
        {
            "access_token": token,
            "refresh_token": ids.SANDBOX_REFRESH_TOKEN,
            "token_type": "bearer",
            "expires_in": ttl,
        }
    )

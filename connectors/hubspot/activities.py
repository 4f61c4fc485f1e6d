"""Activity reads of the HubSpot client: per-contact email events from the legacy email events
API [U]; page views and form submissions are not read here. Events name a recipient address,
so addresses are mapped back to contacts in batches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mopsgate.connectors.hubspot import ids
from mopsgate.connectors.hubspot.campaigns import HubSpotCampaigns
from mopsgate.connectors.hubspot.mapping import EVENT_TYPE_FOR, contact_ref, event_type, to_activity
from mopsgate.connectors.hubspot.paths import EMAIL_EVENTS
from mopsgate.connectors.hubspot.session import HubSpotSession, chunked
from mopsgate.crm.records import Activity, ActivityType, Page
from mopsgate.crm.refs import make_ref

UNRESOLVED = make_ref(ids.VENDOR, ids.CONTACT, "unresolved")


class HubSpotActivities:
    def __init__(self, session: HubSpotSession, campaigns: HubSpotCampaigns) -> None:
        self.s = session
        self.campaigns = campaigns

    async def get_activities(
        self,
        *,
        person_ref: str | None = None,
        campaign_ref: str | None = None,
        types: Sequence[ActivityType] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> Page[Activity]:
        wanted = set(types)
        if wanted and not wanted & set(EVENT_TYPE_FOR) and "other" not in wanted:
            return Page(items=[], next_cursor=None)  # only non-email types: nothing here
        params: dict[str, Any] = {"limit": max(1, min(limit, 1000))}
        if person_ref:
            person = await self.s.http.send(
                "GET",
                self.s.paths.contact(ids.native_id(person_ref, ids.CONTACT)),
                params={"properties": "email"},
            )
            email = (person.get("properties") or {}).get("email")
            if not email:
                return Page(items=[], next_cursor=None)
            params["recipient"] = email
        if len(wanted) == 1 and next(iter(wanted)) in EVENT_TYPE_FOR:
            params["eventType"] = EVENT_TYPE_FOR[next(iter(wanted))]
        if since:
            params["startTimestamp"] = int(since.timestamp() * 1000)
        if until:
            params["endTimestamp"] = int(until.timestamp() * 1000)
        campaign_ids: list[str | None] = [None]
        if campaign_ref:
            campaign_ids = list(await self._email_campaign_ids(campaign_ref))
            if not campaign_ids:
                return Page(items=[], next_cursor=None)
        return await self._events_page(
            params, campaign_ids, cursor, wanted, person_ref, campaign_ref
        )

    async def _events_page(
        self,
        params: dict[str, Any],
        campaign_ids: list[str | None],
        cursor: str | None,
        wanted: set[ActivityType],
        person_ref: str | None,
        campaign_ref: str | None,
    ) -> Page[Activity]:
        """Cursor ``<email campaign index>:<events offset>``."""
        k_raw, _, offset = (cursor or "0:").partition(":")
        k = int(k_raw) if k_raw.isdigit() else 0
        if k >= len(campaign_ids):
            return Page(items=[], next_cursor=None)
        query = dict(params)
        if campaign_ids[k] is not None:
            query["campaignId"] = campaign_ids[k]
        if offset:
            query["offset"] = offset
        data = await self.s.http.send("GET", EMAIL_EVENTS, params=query)
        events = [e for e in data.get("events", []) if not wanted or event_type(e) in wanted]
        who = await self._resolve_recipients(events, person_ref)
        items = [
            to_activity(e, who.get(str(e.get("recipient", "")).lower(), UNRESOLVED), campaign_ref)
            for e in events
        ]
        if data.get("hasMore"):
            nxt: str | None = f"{k}:{data.get('offset')}"
        else:
            nxt = f"{k + 1}:" if k + 1 < len(campaign_ids) else None
        return Page(items=items, next_cursor=nxt)

    async def _resolve_recipients(
        self, events: list[dict[str, Any]], person_ref: str | None
    ) -> dict[str, str]:
        """Email events name a recipient address, not a record: map addresses to contacts
        with one batch read by email per 100 addresses."""
        addresses = sorted({str(e.get("recipient", "")).lower() for e in events} - {""})
        if person_ref:
            return dict.fromkeys(addresses, person_ref)
        out: dict[str, str] = {}
        for chunk in chunked(addresses):
            data = await self.s.http.send(
                "POST",
                f"{self.s.paths.contacts}/batch/read",
                json={
                    "idProperty": "email",
                    "properties": ["email"],
                    "inputs": [{"id": a} for a in chunk],
                },
            )
            for record in (data or {}).get("results", []):
                email = str((record.get("properties") or {}).get("email") or "").lower()
                out.setdefault(email, contact_ref(str(record["id"])))
        return out

    async def _email_campaign_ids(self, campaign_ref: str) -> list[str | None]:
        """Marketing campaign GUID → its marketing emails → their numeric email campaign
        ids, which is what the events API filters on."""
        path = self.s.paths.campaign(ids.native_id(campaign_ref, "campaign"))
        out: list[str | None] = []
        for email_id in await self.campaigns.assets(path, "MARKETING_EMAIL"):
            if not ids.NUMERIC_ID.match(email_id):
                continue
            email = await self.s.http.send("GET", f"{self.s.paths.emails}/{email_id}")
            out += [str(x) for x in (email or {}).get("allEmailCampaignIds", []) or []]
        return out

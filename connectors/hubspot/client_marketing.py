"""Campaign, activity, owner and API-budget reads.

HubSpot marketing campaigns have no member status ladder: "members" are the contacts the
campaign reports attribute to it, by report type (first touch, last touch, influenced), and
that type is what ``CampaignMember.status`` carries. Per-contact activity comes from the
legacy email events API [U]; page views and form submissions are not read here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from mopsgate.connectors.errors import Forbidden, NotFoundError
from mopsgate.connectors.hubspot import ids
from mopsgate.connectors.hubspot.client_base import HubSpotBase, chunked
from mopsgate.connectors.hubspot.mapping import (
    EVENT_TYPE_FOR,
    contact_ref,
    event_type,
    to_activity,
    to_campaign,
    to_owner,
)
from mopsgate.connectors.hubspot.paths import DAILY_USAGE, EMAIL_EVENTS
from mopsgate.connectors.model import (
    Activity,
    ActivityType,
    ApiBudget,
    Campaign,
    CampaignMember,
    Owner,
    Page,
    make_ref,
)

CAMPAIGN_PROPERTIES = "hs_name,hs_campaign_status,hs_start_date,hs_end_date,hs_notes"
UNRESOLVED = make_ref(ids.VENDOR, ids.CONTACT, "unresolved")


def _after(data: Any) -> str | None:
    after = (((data or {}).get("paging") or {}).get("next") or {}).get("after")
    return str(after) if after else None


class MarketingReads(HubSpotBase):
    async def list_campaigns(self, *, cursor: str | None = None, limit: int = 50) -> Page[Campaign]:
        params: dict[str, Any] = {
            "limit": max(1, min(limit, 100)),
            "properties": CAMPAIGN_PROPERTIES,
        }
        if cursor:
            params["after"] = cursor
        data = await self.http.send("GET", self.paths.campaigns, params=params)
        return Page(
            items=[to_campaign(c) for c in data.get("results", [])], next_cursor=_after(data)
        )

    async def get_campaign(self, ref: str) -> Campaign:
        """Campaign + report metrics (member count) + assets (email? audience list?)."""
        path = self.paths.campaign(self.native_id(ref, "campaign"))
        data = await self.http.send("GET", path, params={"properties": CAMPAIGN_PROPERTIES})
        metrics = await self.http.send("GET", f"{path}/reports/metrics")
        emails = await self._assets(path, "MARKETING_EMAIL")
        lists = await self._assets(path, "OBJECT_LIST")
        count = sum(
            int(metrics.get(k) or 0)
            for k in ("newContactsFirstTouch", "newContactsLastTouch", "influencedContacts")
        )
        audience = (
            make_ref(ids.VENDOR, "list", lists[0])
            if lists and ids.NUMERIC_ID.match(lists[0])
            else None
        )
        campaign = to_campaign(
            data, member_count=count, sends_email=bool(emails), audience_list_ref=audience
        )
        # Several list assets, or one that is not a list id: which lists feed the campaign's
        # emails is not fully known, and the floor must not assume it knows.
        known = not lists or (len(lists) == 1 and audience is not None)
        return campaign.model_copy(update={"audience_known": known})

    async def _assets(self, campaign_path: str, asset_type: str) -> list[str]:
        data = await self.http.send("GET", f"{campaign_path}/assets/{asset_type}")
        return [str(a["id"]) for a in (data or {}).get("results", [])]

    async def campaign_members(
        self, ref: str, *, cursor: str | None = None, limit: int = 200
    ) -> Page[CampaignMember]:
        """Walk the report types in turn; the cursor is ``<type index>:<after>``."""
        path = self.paths.campaign(self.native_id(ref, "campaign"))
        kind_idx, _, after = (cursor or "0:").partition(":")
        idx = int(kind_idx) if kind_idx.isdigit() else 0
        while idx < len(ids.CONTACT_TYPES):
            kind = ids.CONTACT_TYPES[idx]
            params: dict[str, Any] = {"limit": max(1, min(limit, 1000))}
            if after:
                params["after"] = after
            data = await self.http.send("GET", f"{path}/reports/contacts/{kind}", params=params)
            items = [
                CampaignMember(
                    campaign_ref=ref,
                    person_ref=contact_ref(str(r["id"])),
                    status=kind,
                    success=None,
                )
                for r in data.get("results", [])
            ]
            nxt = _after(data)
            after, idx = (nxt, idx) if nxt else ("", idx + 1)
            if items:
                more = idx < len(ids.CONTACT_TYPES)
                return Page(items=items, next_cursor=f"{idx}:{after}" if more else None)
        return Page(items=[], next_cursor=None)

    async def list_owners(self) -> list[Owner]:
        owners: list[Owner] = []
        for archived in ("false", "true"):  # people who left are archived owners
            after: str | None = None
            while True:
                params = {"archived": archived, "limit": 500, **({"after": after} if after else {})}
                data = await self.http.send("GET", self.paths.owners, params=params)
                owners += [to_owner(o) for o in data.get("results", [])]
                after = _after(data)
                if after is None:
                    break
        return owners

    async def api_budget(self) -> ApiBudget:
        daily_used = daily_limit = None
        try:
            data = await self.http.send("GET", DAILY_USAGE)
            usage: dict[str, Any] = next(iter((data or {}).get("results", [])), {})
            daily_used, daily_limit = usage.get("currentUsage"), usage.get("usageLimit")
        except (NotFoundError, Forbidden):
            pass  # OAuth apps: no private-app usage report; headers only
        r = self.rate
        window = f"{r.interval_ms / 1000:g}s" if r.interval_ms else "10s"
        used = r.max - r.remaining if r.max is not None and r.remaining is not None else None
        if daily_used is None and r.daily is not None and r.daily_remaining is not None:
            daily_used, daily_limit = r.daily - r.daily_remaining, r.daily
        return ApiBudget(
            connector=ids.VENDOR,
            window=window,
            used_in_window=used,
            limit_in_window=r.max,
            daily_used=daily_used,
            daily_limit=daily_limit,
            calls_made_by_mopsgate=self.http.calls,
            notes="window from the last X-HubSpot-RateLimit-* headers; daily "
            "from the private-app API usage report",
        )

    # activities ---------------------------------------------------------------------------
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
            person = await self.http.send(
                "GET",
                self.paths.contact(self.native_id(person_ref, ids.CONTACT)),
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
        data = await self.http.send("GET", EMAIL_EVENTS, params=query)
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
            data = await self.http.send(
                "POST",
                f"{self.paths.contacts}/batch/read",
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
        path = self.paths.campaign(self.native_id(campaign_ref, "campaign"))
        out: list[str | None] = []
        for email_id in await self._assets(path, "MARKETING_EMAIL"):
            if not ids.NUMERIC_ID.match(email_id):
                continue
            email = await self.http.send("GET", f"{self.paths.emails}/{email_id}")
            out += [str(x) for x in (email or {}).get("allEmailCampaignIds", []) or []]
        return out

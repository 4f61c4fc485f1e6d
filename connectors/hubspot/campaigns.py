"""Campaign reads of the HubSpot client.

HubSpot marketing campaigns have no member status ladder: "members" are the contacts the
campaign reports attribute to it, by report type (first touch, last touch, influenced), and
that type is what ``CampaignMember.status`` carries.
"""

from __future__ import annotations

from typing import Any

from mopsgate.connectors.hubspot import ids
from mopsgate.connectors.hubspot.mapping import contact_ref, to_campaign
from mopsgate.connectors.hubspot.session import HubSpotSession, next_after
from mopsgate.crm.records import Campaign, CampaignMember, Page
from mopsgate.crm.refs import make_ref

CAMPAIGN_PROPERTIES = "hs_name,hs_campaign_status,hs_start_date,hs_end_date,hs_notes"


class HubSpotCampaigns:
    def __init__(self, session: HubSpotSession) -> None:
        self.s = session

    async def list_campaigns(self, *, cursor: str | None = None, limit: int = 50) -> Page[Campaign]:
        params: dict[str, Any] = {
            "limit": max(1, min(limit, 100)),
            "properties": CAMPAIGN_PROPERTIES,
        }
        if cursor:
            params["after"] = cursor
        data = await self.s.http.send("GET", self.s.paths.campaigns, params=params)
        return Page(
            items=[to_campaign(c) for c in data.get("results", [])], next_cursor=next_after(data)
        )

    async def get_campaign(self, ref: str, *, audience: bool = True) -> Campaign:
        """Campaign + report metrics (member count) + assets (email? audience list?), the
        assets only with ``audience``."""
        path = self.s.paths.campaign(ids.native_id(ref, "campaign"))
        data = await self.s.http.send("GET", path, params={"properties": CAMPAIGN_PROPERTIES})
        metrics = await self.s.http.send("GET", f"{path}/reports/metrics")
        count = sum(
            int(metrics.get(k) or 0)
            for k in ("newContactsFirstTouch", "newContactsLastTouch", "influencedContacts")
        )
        campaign = to_campaign(data, member_count=count)
        return await self._with_audience(campaign, path) if audience else campaign

    async def audience_page(self, *, cursor: str | None = None, limit: int = 50) -> Page[Campaign]:
        """The listing already has each campaign's name and status; its email and list assets
        are the two reads HubSpot needs for the rest (no detail, no report metrics), made for
        every campaign not shown inactive: no listing carries them."""
        page = await self.list_campaigns(cursor=cursor, limit=limit)
        items = [
            c
            if c.active is False
            else await self._with_audience(
                c, self.s.paths.campaign(ids.native_id(c.ref, "campaign"))
            )
            for c in page.items
        ]
        return Page(items=items, next_cursor=page.next_cursor)

    async def _with_audience(self, campaign: Campaign, path: str) -> Campaign:
        emails = await self.assets(path, "MARKETING_EMAIL")
        lists = await self.assets(path, "OBJECT_LIST")
        audience = (
            make_ref(ids.VENDOR, "list", lists[0])
            if lists and ids.NUMERIC_ID.match(lists[0])
            else None
        )
        # Several list assets, or one that is not a list id: which lists feed the campaign's
        # emails is not fully known, and the floor must not assume it knows.
        known = not lists or (len(lists) == 1 and audience is not None)
        return campaign.model_copy(
            update={
                "sends_email": bool(emails),
                "audience_list_ref": audience,
                "audience_known": known,
            }
        )

    async def assets(self, campaign_path: str, asset_type: str) -> list[str]:
        data = await self.s.http.send("GET", f"{campaign_path}/assets/{asset_type}")
        return [str(a["id"]) for a in (data or {}).get("results", [])]

    async def campaign_members(
        self, ref: str, *, cursor: str | None = None, limit: int = 200
    ) -> Page[CampaignMember]:
        """Walk the report types in turn; the cursor is ``<type index>:<after>``."""
        path = self.s.paths.campaign(ids.native_id(ref, "campaign"))
        kind_idx, _, after = (cursor or "0:").partition(":")
        idx = int(kind_idx) if kind_idx.isdigit() else 0
        while idx < len(ids.CONTACT_TYPES):
            kind = ids.CONTACT_TYPES[idx]
            params: dict[str, Any] = {"limit": max(1, min(limit, 1000))}
            if after:
                params["after"] = after
            data = await self.s.http.send("GET", f"{path}/reports/contacts/{kind}", params=params)
            items = [
                CampaignMember(
                    campaign_ref=ref,
                    person_ref=contact_ref(str(r["id"])),
                    status=kind,
                    success=None,
                )
                for r in data.get("results", [])
            ]
            nxt = next_after(data)
            after, idx = (nxt, idx) if nxt else ("", idx + 1)
            if items:
                more = idx < len(ids.CONTACT_TYPES)
                return Page(items=items, next_cursor=f"{idx}:{after}" if more else None)
        return Page(items=[], next_cursor=None)

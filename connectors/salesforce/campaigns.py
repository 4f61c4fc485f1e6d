"""Campaign reads of the Salesforce client: Campaigns other than Type 'List', with their
CampaignMemberStatus ladder, members and the per-status roll-up."""

from __future__ import annotations

from typing import Any

from mopsgate.connectors.salesforce import ids
from mopsgate.connectors.salesforce import mapping as m
from mopsgate.connectors.salesforce.session import SalesforceSession
from mopsgate.connectors.salesforce.soql_build import Select
from mopsgate.crm.errors import MalformedResponse
from mopsgate.crm.records import Campaign, CampaignMember, Page


class SalesforceCampaigns:
    def __init__(self, session: SalesforceSession) -> None:
        self.s = session

    async def record(self, ref: str) -> dict[str, Any]:
        """The Campaign record itself (a list or a campaign); 404 when there is none."""
        _, native = self.s.native(ref, (ids.CAMPAIGN,))
        body = await self.s.http.send(
            "GET",
            self.s.path("sobjects", ids.CAMPAIGN, native),
            params={"fields": ",".join(m.CAMPAIGN_FIELDS)},
        )
        if not isinstance(body, dict):
            raise MalformedResponse(ids.VENDOR, "campaign record is not an object")
        return body

    async def list_campaigns(self, *, cursor: str | None = None, limit: int = 50) -> Page[Campaign]:
        rows, nxt = await self._listing(cursor, limit)
        ladders = await self._ladders([r["Id"] for r in rows])
        return Page(
            items=[m.to_campaign(r, ladders.get(r["Id"], [])) for r in rows], next_cursor=nxt
        )

    async def audience_page(self, *, cursor: str | None = None, limit: int = 50) -> Page[Campaign]:
        """The Campaign rows alone: an emailing campaign's audience is itself, so the listing
        already says all the floor needs (no ladders, no per-campaign read)."""
        rows, nxt = await self._listing(cursor, limit)
        return Page(items=[m.to_campaign(r, []) for r in rows], next_cursor=nxt)

    async def _listing(
        self, cursor: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        q = Select(ids.CAMPAIGN, m.CAMPAIGN_FIELDS)
        q.where(q.cmp("Type", "!=", m.LIST_TYPE))
        return await self.s.query_page(q.order_by("Id").render(), cursor, limit)

    async def get_campaign(self, ref: str, *, audience: bool = True) -> Campaign:
        """The audience is the campaign itself: ``audience`` changes nothing here."""
        rec = await self.record(ref)
        ladders = await self._ladders([rec["Id"]])
        return m.to_campaign(rec, ladders.get(rec["Id"], []))

    async def _ladders(self, campaign_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        if not campaign_ids:
            return {}
        q = Select("CampaignMemberStatus", m.LADDER_FIELDS)
        q.where(q.in_("CampaignId", campaign_ids))
        out: dict[str, list[dict[str, Any]]] = {}
        for row in await self.s.query_all(q.order_by("SortOrder").render()):
            out.setdefault(row["CampaignId"], []).append(row)
        return out

    async def campaign_members(
        self, ref: str, *, cursor: str | None = None, limit: int = 200
    ) -> Page[CampaignMember]:
        _, native = self.s.native(ref, (ids.CAMPAIGN,))
        q = Select(ids.CAMPAIGN_MEMBER, m.MEMBER_FIELDS)
        q.where(q.eq("CampaignId", native))
        rows, nxt = await self.s.query_page(q.order_by("Id").render(), cursor, limit)
        self.s.member_ids.put(
            {(native, who): r["Id"] for r in rows if (who := r.get("LeadId") or r.get("ContactId"))}
        )
        members = [m.to_member(r) for r in rows]
        return Page(items=[x for x in members if x is not None], next_cursor=nxt)

    async def status_counts(self, ref: str) -> dict[str, int]:
        """Members per status (``GROUP BY Status``): the performance roll-up Salesforce has."""
        _, native = self.s.native(ref, (ids.CAMPAIGN,))
        q = Select(ids.CAMPAIGN_MEMBER, ["Id"]).count_by("Status", "n")
        q.where(q.eq("CampaignId", native))
        return {str(r["Status"]): int(r["n"]) for r in await self.s.query_all(q.render())}

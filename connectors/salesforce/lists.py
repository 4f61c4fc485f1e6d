"""List reads of the Salesforce client. Salesforce has no list object: static lists are
Campaigns of Type 'List' and membership is CampaignMember rows."""

from __future__ import annotations

from mopsgate.connectors.salesforce import ids
from mopsgate.connectors.salesforce import mapping as m
from mopsgate.connectors.salesforce.campaigns import SalesforceCampaigns
from mopsgate.connectors.salesforce.people import SalesforcePeople
from mopsgate.connectors.salesforce.session import SalesforceSession
from mopsgate.connectors.salesforce.soql_build import Select
from mopsgate.crm.records import CampaignMember, Memberships, Page, Person, PersonList


class SalesforceLists:
    def __init__(
        self, session: SalesforceSession, people: SalesforcePeople, campaigns: SalesforceCampaigns
    ) -> None:
        self.s = session
        self.people = people
        self.campaigns = campaigns

    async def list_lists(
        self, *, cursor: str | None = None, limit: int = 50, name_contains: str | None = None
    ) -> Page[PersonList]:
        q = Select(ids.CAMPAIGN, m.CAMPAIGN_FIELDS)
        q.where(q.eq("Type", m.LIST_TYPE))
        if name_contains:
            q.where(q.like_contains("Name", name_contains))
        rows, nxt = await self.s.query_page(q.order_by("Id").render(), cursor, limit)
        return Page(items=[m.to_list(r) for r in rows], next_cursor=nxt)

    async def get_list(self, ref: str) -> PersonList:
        return m.to_list(await self.campaigns.record(ref))

    async def list_members(
        self, list_ref: str, *, cursor: str | None = None, limit: int = 100
    ) -> Page[Person]:
        page = await self.list_member_ids(list_ref, cursor=cursor, limit=limit)
        people = await self.people.get_people(page.items)
        items = [people[ref] for ref in page.items if ref in people]
        return Page(items=items, next_cursor=page.next_cursor)

    async def list_member_ids(
        self, list_ref: str, *, cursor: str | None = None, limit: int = 100
    ) -> Page[str]:
        """CampaignMember rows carry the Lead or Contact id: no record read."""
        page = await self.campaigns.campaign_members(list_ref, cursor=cursor, limit=limit)
        if not page.items and cursor is None:
            await self.campaigns.record(list_ref)  # 404 for a list that does not exist
        return Page(items=[mb.person_ref for mb in page.items], next_cursor=page.next_cursor)

    async def person_memberships(self, ref: str) -> Memberships:
        obj, native = self.s.native(ref, ids.PERSON_OBJECTS)
        q = Select(ids.CAMPAIGN_MEMBER, m.MEMBER_FIELDS)
        q.where(q.eq("ContactId" if obj == ids.CONTACT else "LeadId", native))
        members = await self.s.query_all(q.order_by("Id").render())
        if not members:
            return Memberships(person_ref=ref)
        cq = Select(ids.CAMPAIGN, m.CAMPAIGN_FIELDS)
        cq.where(cq.in_("Id", sorted({r["CampaignId"] for r in members})))
        campaigns = {r["Id"]: r for r in await self.s.query_all(cq.render())}
        lists: list[PersonList] = []
        in_campaigns: list[CampaignMember] = []
        for row in members:
            camp = campaigns.get(row["CampaignId"])
            member = m.to_member(row)
            if camp is not None and camp.get("Type") == m.LIST_TYPE:
                lists.append(m.to_list(camp))
            elif member is not None:
                in_campaigns.append(member)
        return Memberships(person_ref=ref, lists=lists, campaigns=in_campaigns)

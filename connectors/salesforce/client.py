"""Salesforce connector: REST + SOQL reads, sObject Collections writes.

People are Leads and Contacts; static lists are Campaigns of Type 'List' (membership is
CampaignMember rows); campaigns are the other Campaigns, with their CampaignMemberStatus ladder;
activities are Tasks; owners are Users. Every query is built by ``soql_build`` (quoted values,
catalogue-checked names), and every id is shape-checked before it reaches a path or a query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from mopsgate.connectors.errors import ConfigError, MalformedResponse
from mopsgate.connectors.model import (
    Activity,
    ActivityType,
    ApiBudget,
    Campaign,
    CampaignMember,
    Memberships,
    Owner,
    Page,
    Person,
    PersonList,
)
from mopsgate.connectors.salesforce import fields as cat
from mopsgate.connectors.salesforce import ids
from mopsgate.connectors.salesforce import mapping as m
from mopsgate.connectors.salesforce.client_people import SalesforcePeople
from mopsgate.connectors.salesforce.soql_build import Select


class SalesforceClient(SalesforcePeople):
    @classmethod
    def from_env(cls, env: Mapping[str, str], **kw: Any) -> SalesforceClient:
        values: dict[str, str] = {}
        for var in ("SALESFORCE_LOGIN_URL", "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET"):
            if not env.get(var):
                hint = (
                    "your My Domain URL, e.g. https://acme.my.salesforce.com"
                    if var == "SALESFORCE_LOGIN_URL"
                    else "from the connected app"
                )
                raise ConfigError(ids.VENDOR, var, hint)
            values[var] = env[var]
        if not values["SALESFORCE_LOGIN_URL"].startswith("https://"):
            raise ConfigError(ids.VENDOR, "SALESFORCE_LOGIN_URL", "must start with https://")
        version = env.get("SALESFORCE_API_VERSION") or ids.DEFAULT_API_VERSION
        if not ids.VERSION_RE.match(version):
            raise ConfigError(ids.VENDOR, "SALESFORCE_API_VERSION", "expected e.g. v62.0")
        kw.setdefault("api_version", version)
        return cls(
            values["SALESFORCE_LOGIN_URL"],
            values["SALESFORCE_CLIENT_ID"],
            values["SALESFORCE_CLIENT_SECRET"],
            **kw,
        )

    # lists (Campaigns of Type 'List') -------------------------------------------------------
    async def list_lists(
        self, *, cursor: str | None = None, limit: int = 50, name_contains: str | None = None
    ) -> Page[PersonList]:
        q = Select(ids.CAMPAIGN, m.CAMPAIGN_FIELDS)
        q.where(q.eq("Type", m.LIST_TYPE))
        if name_contains:
            q.where(q.like_contains("Name", name_contains))
        rows, nxt = await self.query_page(q.order_by("Id").render(), cursor, limit)
        return Page(items=[m.to_list(r) for r in rows], next_cursor=nxt)

    async def get_list(self, ref: str) -> PersonList:
        return m.to_list(await self._campaign_record(ref))

    async def _campaign_record(self, ref: str) -> dict[str, Any]:
        _, native = self.native(ref, (ids.CAMPAIGN,))
        body = await self.http.send(
            "GET",
            self.path("sobjects", ids.CAMPAIGN, native),
            params={"fields": ",".join(m.CAMPAIGN_FIELDS)},
        )
        if not isinstance(body, dict):
            raise MalformedResponse(ids.VENDOR, "campaign record is not an object")
        return body

    async def list_members(
        self, list_ref: str, *, cursor: str | None = None, limit: int = 100
    ) -> Page[Person]:
        page = await self.campaign_members(list_ref, cursor=cursor, limit=limit)
        if not page.items and cursor is None:
            await self._campaign_record(list_ref)  # 404 for a list that does not exist
        people = await self.get_people([mb.person_ref for mb in page.items])
        items = [people[mb.person_ref] for mb in page.items if mb.person_ref in people]
        return Page(items=items, next_cursor=page.next_cursor)

    async def person_memberships(self, ref: str) -> Memberships:
        obj, native = self.native(ref, ids.PERSON_OBJECTS)
        q = Select(ids.CAMPAIGN_MEMBER, m.MEMBER_FIELDS)
        q.where(q.eq("ContactId" if obj == ids.CONTACT else "LeadId", native))
        members = await self.query_all(q.order_by("Id").render())
        if not members:
            return Memberships(person_ref=ref)
        cq = Select(ids.CAMPAIGN, m.CAMPAIGN_FIELDS)
        cq.where(cq.in_("Id", sorted({r["CampaignId"] for r in members})))
        campaigns = {r["Id"]: r for r in await self.query_all(cq.render())}
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

    # campaigns ------------------------------------------------------------------------------
    async def list_campaigns(self, *, cursor: str | None = None, limit: int = 50) -> Page[Campaign]:
        q = Select(ids.CAMPAIGN, m.CAMPAIGN_FIELDS)
        q.where(q.cmp("Type", "!=", m.LIST_TYPE))
        rows, nxt = await self.query_page(q.order_by("Id").render(), cursor, limit)
        ladders = await self._ladders([r["Id"] for r in rows])
        return Page(
            items=[m.to_campaign(r, ladders.get(r["Id"], [])) for r in rows], next_cursor=nxt
        )

    async def get_campaign(self, ref: str) -> Campaign:
        rec = await self._campaign_record(ref)
        ladders = await self._ladders([rec["Id"]])
        return m.to_campaign(rec, ladders.get(rec["Id"], []))

    async def _ladders(self, campaign_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        if not campaign_ids:
            return {}
        q = Select("CampaignMemberStatus", m.LADDER_FIELDS)
        q.where(q.in_("CampaignId", campaign_ids))
        out: dict[str, list[dict[str, Any]]] = {}
        for row in await self.query_all(q.order_by("SortOrder").render()):
            out.setdefault(row["CampaignId"], []).append(row)
        return out

    async def campaign_members(
        self, ref: str, *, cursor: str | None = None, limit: int = 200
    ) -> Page[CampaignMember]:
        _, native = self.native(ref, (ids.CAMPAIGN,))
        q = Select(ids.CAMPAIGN_MEMBER, m.MEMBER_FIELDS)
        q.where(q.eq("CampaignId", native))
        rows, nxt = await self.query_page(q.order_by("Id").render(), cursor, limit)
        members = [m.to_member(r) for r in rows]
        return Page(items=[x for x in members if x is not None], next_cursor=nxt)

    async def campaign_status_counts(self, ref: str) -> dict[str, int]:
        """Members per status (``GROUP BY Status``): the performance roll-up Salesforce has."""
        _, native = self.native(ref, (ids.CAMPAIGN,))
        q = Select(ids.CAMPAIGN_MEMBER, ["Id"]).count_by("Status", "n")
        q.where(q.eq("CampaignId", native))
        return {str(r["Status"]): int(r["n"]) for r in await self.query_all(q.render())}

    # activities, owners, budget -------------------------------------------------------------
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
        q = Select(ids.TASK, m.TASK_FIELDS)
        q.where(q.cmp("WhoId", "!=", None))
        if person_ref:
            q.where(q.eq("WhoId", self.native(person_ref, ids.PERSON_OBJECTS)[1]))
        if campaign_ref:
            q.where(q.eq("WhatId", self.native(campaign_ref, (ids.CAMPAIGN,))[1]))
        if types:
            q.where(q.in_("Subject", sorted({cat.TASK_SUBJECTS[t] for t in types})))
        if since:
            q.where(q.cmp("CreatedDate", ">=", since))
        if until:
            q.where(q.cmp("CreatedDate", "<", until))
        rows, nxt = await self.query_page(
            q.order_by("CreatedDate").order_by("Id").render(), cursor, limit
        )
        acts = [m.to_activity(r) for r in rows]
        return Page(items=[a for a in acts if a is not None], next_cursor=nxt)

    async def list_owners(self) -> list[Owner]:
        q = Select(ids.USER, m.USER_FIELDS).order_by("Id")
        return [m.to_owner(r) for r in await self.query_all(q.render())]

    async def api_budget(self) -> ApiBudget:
        body = await self.http.send("GET", self.path("limits"))
        daily = body.get("DailyApiRequests", {}) if isinstance(body, dict) else {}
        cap, remaining = daily.get("Max"), daily.get("Remaining")
        used = cap - remaining if isinstance(cap, int) and isinstance(remaining, int) else None
        return ApiBudget(
            connector=ids.VENDOR,
            window="rolling 24 hours",
            used_in_window=used,
            limit_in_window=cap,
            daily_used=used,
            daily_limit=cap,
            calls_made_by_mopsgate=self.http.calls,
            notes="Salesforce counts every REST call against the org's rolling 24-hour "
            "allocation; over it, calls fail with REQUEST_LIMIT_EXCEEDED until usage "
            "ages out.",
        )

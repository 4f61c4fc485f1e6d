"""Activity reads of the Salesforce client: Tasks about a person, whose Subject names the
activity type."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from mopsgate.connectors.salesforce import fields as cat
from mopsgate.connectors.salesforce import ids
from mopsgate.connectors.salesforce import mapping as m
from mopsgate.connectors.salesforce.session import SalesforceSession
from mopsgate.connectors.salesforce.soql_build import Select
from mopsgate.crm.records import Activity, ActivityType, Page


class SalesforceActivities:
    def __init__(self, session: SalesforceSession) -> None:
        self.s = session

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
            q.where(q.eq("WhoId", self.s.native(person_ref, ids.PERSON_OBJECTS)[1]))
        if campaign_ref:
            q.where(q.eq("WhatId", self.s.native(campaign_ref, (ids.CAMPAIGN,))[1]))
        if types:
            q.where(q.in_("Subject", sorted({cat.TASK_SUBJECTS[t] for t in types})))
        if since:
            q.where(q.cmp("CreatedDate", ">=", since))
        if until:
            q.where(q.cmp("CreatedDate", "<", until))
        rows, nxt = await self.s.query_page(
            q.order_by("CreatedDate").order_by("Id").render(), cursor, limit
        )
        acts = [m.to_activity(r) for r in rows]
        return Page(items=[a for a in acts if a is not None], next_cursor=nxt)

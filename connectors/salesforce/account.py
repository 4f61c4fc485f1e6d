"""Owners (Users) and the API budget of the Salesforce client."""

from __future__ import annotations

from collections.abc import Sequence

from mopsgate.connectors.salesforce import ids
from mopsgate.connectors.salesforce import mapping as m
from mopsgate.connectors.salesforce.session import SalesforceSession
from mopsgate.connectors.salesforce.soql_build import Select
from mopsgate.crm.records import ApiBudget, Owner
from mopsgate.crm.refs import make_ref


class SalesforceAccount:
    def __init__(self, session: SalesforceSession) -> None:
        self.s = session

    async def list_owners(self) -> list[Owner]:
        q = Select(ids.USER, m.USER_FIELDS).order_by("Id")
        return [m.to_owner(r) for r in await self.s.query_all(q.render())]

    async def owner_record_counts(self, objects: Sequence[str] | None = None) -> dict[str, int]:
        """``SELECT OwnerId, COUNT(Id) … GROUP BY OwnerId`` on Leads and on Contacts (or the
        ones asked for): the aggregate query Salesforce documents for roll-ups, one call per
        person object."""
        counts: dict[str, int] = {}
        for obj in ids.PERSON_OBJECTS:
            if objects is not None and obj not in objects:
                continue
            q = Select(obj, ["Id"]).count_by("OwnerId", "n")
            for row in await self.s.query_all(q.render()):
                ref = make_ref(ids.VENDOR, ids.USER, str(row["OwnerId"]))
                counts[ref] = counts.get(ref, 0) + int(row["n"])
        return counts

    async def api_budget(self) -> ApiBudget:
        body = await self.s.http.send("GET", self.s.path("limits"))
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
            calls_made_by_mopsgate=self.s.http.calls,
            notes="Salesforce counts every REST call against the org's rolling 24-hour "
            "allocation; over it, calls fail with REQUEST_LIMIT_EXCEEDED until usage "
            "ages out.",
        )

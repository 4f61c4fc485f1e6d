"""Owners (sales persons) and the API budget of the Marketo client."""

from __future__ import annotations

from collections.abc import Sequence

from mopsgate.connectors.marketo import mapping
from mopsgate.connectors.marketo.ids import LEAD, VENDOR
from mopsgate.connectors.marketo.session import MarketoSession
from mopsgate.crm.records import ApiBudget, Owner
from mopsgate.crm.refs import parse_ref

DAILY_LIMIT = 50_000  # the default subscription allocation; instances may have more


class MarketoAccount:
    def __init__(self, session: MarketoSession) -> None:
        self.s = session

    async def list_owners(self) -> list[Owner]:
        return [mapping.owner(r) for r in await self.s.collect("/rest/v1/salespersons.json")]

    async def owner_record_counts(self, objects: Sequence[str] | None = None) -> dict[str, int]:
        """Marketo has no count endpoint: each sales person's leads are paged by the
        ``externalSalesPersonId`` key (ids only, 300 a call)."""
        counts: dict[str, int] = {}
        if objects is not None and LEAD not in objects:
            return counts
        for owner in await self.list_owners():
            native = parse_ref(owner.ref).id
            params = {"filterType": "externalSalesPersonId", "filterValues": native, "fields": "id"}
            if n := len(await self.s.collect("/rest/v1/leads.json", params)):
                counts[owner.ref] = n
        return counts

    async def api_budget(self) -> ApiBudget:
        usage = (await self.s.get("/rest/v1/stats/usage.json")).get("result") or [{}]
        return ApiBudget(
            connector=VENDOR,
            window="20s",
            used_in_window=None,
            limit_in_window=100,
            daily_used=usage[0].get("total"),
            daily_limit=DAILY_LIMIT,
            calls_made_by_mopsgate=self.s.http.calls,
            notes="Marketo allows 100 calls per 20 s and 10 concurrent calls per "
            "instance, shared by every integration; the daily quota resets "
            "at midnight US Central.",
        )

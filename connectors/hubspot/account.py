"""Owners and the API budget of the HubSpot client."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mopsgate.connectors.hubspot import ids
from mopsgate.connectors.hubspot.mapping import to_owner
from mopsgate.connectors.hubspot.paths import DAILY_USAGE
from mopsgate.connectors.hubspot.session import HubSpotSession, next_after
from mopsgate.crm.errors import Forbidden, NotFoundError
from mopsgate.crm.records import ApiBudget, Owner
from mopsgate.crm.refs import parse_ref


class HubSpotAccount:
    def __init__(self, session: HubSpotSession) -> None:
        self.s = session

    async def list_owners(self) -> list[Owner]:
        owners: list[Owner] = []
        for archived in ("false", "true"):  # people who left are archived owners
            after: str | None = None
            while True:
                params = {"archived": archived, "limit": 500, **({"after": after} if after else {})}
                data = await self.s.http.send("GET", self.s.paths.owners, params=params)
                owners += [to_owner(o) for o in data.get("results", [])]
                after = next_after(data)
                if after is None:
                    break
        return owners

    async def owner_record_counts(self, objects: Sequence[str] | None = None) -> dict[str, int]:
        """One CRM search per owner (``hubspot_owner_id EQ``, one row asked for): the search
        answer's ``total`` is HubSpot's own count of that owner's contacts."""
        counts: dict[str, int] = {}
        if objects is not None and ids.CONTACT not in objects:
            return counts
        for owner in await self.list_owners():
            native = parse_ref(owner.ref).id
            body = {
                "filterGroups": [
                    {
                        "filters": [
                            {"propertyName": "hubspot_owner_id", "operator": "EQ", "value": native}
                        ]
                    }
                ],
                "properties": ["hs_object_id"],
                "limit": 1,
            }
            async with self.s.search_limiter:
                data = await self.s.http.send("POST", f"{self.s.paths.contacts}/search", json=body)
            total = int((data or {}).get("total", 0)) if isinstance(data, dict) else 0
            if total:
                counts[owner.ref] = total
        return counts

    async def api_budget(self) -> ApiBudget:
        daily_used = daily_limit = None
        try:
            data = await self.s.http.send("GET", DAILY_USAGE)
            usage: dict[str, Any] = next(iter((data or {}).get("results", [])), {})
            daily_used, daily_limit = usage.get("currentUsage"), usage.get("usageLimit")
        except (NotFoundError, Forbidden):
            pass  # OAuth apps: no private-app usage report; headers only
        r = self.s.rate
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
            calls_made_by_mopsgate=self.s.http.calls,
            notes="window from the last X-HubSpot-RateLimit-* headers; daily "
            "from the private-app API usage report",
        )

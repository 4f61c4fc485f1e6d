"""Activity reads of the Marketo client: date-based paging tokens, ten activity types per call
at most, filtered client-side by campaign (a program matches its smart campaigns' activities
plus its own status changes)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from mopsgate.connectors.marketo import ids, mapping
from mopsgate.connectors.marketo.ids import CAMPAIGN_OBJECTS, native_id
from mopsgate.connectors.marketo.session import Fetch, MarketoSession, phased_page
from mopsgate.crm.records import Activity, ActivityType, Page

EPOCH_SINCE = datetime(2000, 1, 1, tzinfo=UTC)


def _iso(when: datetime) -> str:
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class MarketoActivities:
    def __init__(self, session: MarketoSession) -> None:
        self.s = session

    async def _campaign_filter(self, ref: str | None) -> tuple[set[int], int | None] | None:
        """Smart-campaign ids whose activities count for ``ref`` (+ the program id)."""
        if ref is None:
            return None
        obj, cid = native_id(ref, *CAMPAIGN_OBJECTS)
        if obj == ids.SMART_CAMPAIGN:
            return {cid}, None
        folder = json.dumps({"id": cid, "type": "Program"})
        body = await self.s.get(
            "/rest/asset/v1/smartCampaigns.json", {"folder": folder, "maxReturn": 200}
        )
        return {int(r["id"]) for r in body.get("result") or []}, cid

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
        lead = native_id(person_ref, ids.LEAD)[1] if person_ref else None
        camp = await self._campaign_filter(campaign_ref)
        wanted = {ids.ACTIVITY_TYPE_IDS[t] for t in types if t != "other"}
        if not types:  # every mapped type; "other" (unmapped types) only when asked for
            wanted = set(ids.ACTIVITY_TYPE_IDS.values())
        if "other" in types:
            wanted |= await self._other_type_ids()
        type_ids = sorted(wanted)
        groups = [type_ids[i : i + 10] for i in range(0, len(type_ids), 10)]
        phases: list[Fetch[Activity]] = [
            self._activity_phase(g, lead, camp, since or EPOCH_SINCE, until) for g in groups
        ]
        items, nxt = await phased_page(phases, cursor, max(1, min(limit, 300)))
        return Page[Activity](items=items, next_cursor=nxt)

    async def _other_type_ids(self) -> set[int]:
        known = set(ids.ACTIVITY_TYPE_IDS.values())
        rows = (await self.s.get("/rest/v1/activities/types.json")).get("result") or []
        return {int(r["id"]) for r in rows if int(r["id"]) not in known}

    def _activity_phase(
        self,
        type_ids: list[int],
        lead: int | None,
        camp: tuple[set[int], int | None] | None,
        since: datetime,
        until: datetime | None,
    ) -> Fetch[Activity]:
        async def fetch(token: str | None, n: int) -> tuple[list[Activity], str | None]:
            if token is None:
                start = await self.s.get(
                    "/rest/v1/activities/pagingtoken.json", {"sinceDatetime": _iso(since)}
                )
                token = str(start.get("nextPageToken") or "")
            params: dict[str, Any] = {
                "nextPageToken": token,
                "batchSize": min(n, 300),
                "activityTypeIds": ",".join(map(str, type_ids)),
            }
            if lead is not None:
                params["leadIds"] = str(lead)
            body = await self.s.get("/rest/v1/activities.json", params)
            nxt = body.get("nextPageToken") if body.get("moreResult") else None
            out: list[Activity] = []
            for rec in body.get("result") or []:
                act = mapping.activity(rec)
                if until is not None and act.occurred_at > until:
                    return out, None  # the log is in date order: nothing later qualifies
                if camp is None or _in_campaign(rec, camp):
                    out.append(act)
            return out, nxt

        return fetch


def _in_campaign(rec: dict[str, Any], camp: tuple[set[int], int | None]) -> bool:
    campaigns, program = camp
    if rec.get("campaignId") in campaigns:
        return True
    return (
        program is not None
        and rec.get("activityTypeId") == 104
        and rec.get("primaryAttributeValueId") == program
    )

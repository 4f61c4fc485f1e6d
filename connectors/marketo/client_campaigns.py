"""Campaign, membership, activity, owner and budget reads of the Marketo client.

A mopsgate campaign is either a Marketo *program* (members with a progression status on the
channel's ladder) or a *smart campaign* (the thing that is triggered or scheduled). Activities
come through date-based paging tokens, ten activity types per call at most.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from mopsgate.connectors.errors import NotFoundError, NotSupportedByVendor
from mopsgate.connectors.marketo import ids, mapping
from mopsgate.connectors.marketo.client_base import Fetch, native_id, phased_page
from mopsgate.connectors.marketo.client_people import PeopleReads
from mopsgate.connectors.marketo.envelope import VENDOR
from mopsgate.connectors.model import (
    Activity,
    ActivityType,
    ApiBudget,
    Campaign,
    CampaignMember,
    Memberships,
    Owner,
    Page,
)

EPOCH_SINCE = datetime(2000, 1, 1, tzinfo=UTC)
CAMPAIGN_OBJECTS = (ids.PROGRAM, ids.SMART_CAMPAIGN)


def _iso(when: datetime) -> str:
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CampaignReads(PeopleReads):
    _channels: dict[str, dict[str, Any]] | None = None
    daily_limit = 50_000

    async def _all(self, path: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every record of a lead-database collection (nextPageToken paging)."""
        query: dict[str, Any] = {**(params or {}), "batchSize": 300}
        out: list[Any] = []
        while True:
            body = await self._get(path, query)
            out.extend(body.get("result") or [])
            if not body.get("moreResult"):
                return out
            query["nextPageToken"] = body.get("nextPageToken")

    async def _channel(self, name: str | None) -> dict[str, Any] | None:
        if self._channels is None:
            channels: dict[str, dict[str, Any]] = {}
            offset = 0
            while True:
                body = await self._get(
                    "/rest/asset/v1/channels.json", {"offset": offset, "maxReturn": 200}
                )
                got = body.get("result") or []
                channels.update({c["name"]: c for c in got})
                if len(got) < 200:
                    break
                offset += 200
            self._channels = channels
        return self._channels.get(name or "")

    async def _asset(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        result = (await self._get(path, params)).get("result") or []
        if not result:
            raise NotFoundError(VENDOR, f"No asset found at {path}", code="702")
        first: dict[str, Any] = result[0]
        return first

    async def list_campaigns(self, *, cursor: str | None = None, limit: int = 50) -> Page[Campaign]:
        async def programs(token: str | None, n: int) -> tuple[list[Campaign], str | None]:
            offset, size = int(token or 0), min(n, 200)
            got = (
                await self._get(
                    "/rest/asset/v1/programs.json", {"offset": offset, "maxReturn": size}
                )
            ).get("result") or []
            out = [mapping.program(r, await self._channel(r.get("channel"))) for r in got]
            return out, (str(offset + size) if len(got) == size else None)

        async def smart(token: str | None, n: int) -> tuple[list[Campaign], str | None]:
            offset, size = int(token or 0), min(n, 200)
            got = (
                await self._get(
                    "/rest/asset/v1/smartCampaigns.json", {"offset": offset, "maxReturn": size}
                )
            ).get("result") or []
            return (
                [mapping.smart_campaign(r) for r in got],
                str(offset + size) if len(got) == size else None,
            )

        phases: list[Fetch[Campaign]] = [programs, smart]
        items, nxt = await phased_page(phases, cursor, max(1, min(limit, 200)))
        return Page[Campaign](items=items, next_cursor=nxt)

    async def get_campaign(self, ref: str) -> Campaign:
        obj, cid = native_id(ref, *CAMPAIGN_OBJECTS)
        if obj == ids.PROGRAM:
            rec = await self._asset(f"/rest/asset/v1/program/{cid}.json")
            return mapping.program(rec, await self._channel(rec.get("channel")))
        rec = await self._asset(f"/rest/asset/v1/smartCampaign/{cid}.json")
        audience, known = await self._audience(cid)
        campaign = mapping.smart_campaign(rec, audience, audience_known=known)
        folder = rec.get("folder") or {}
        if folder.get("type") == "Program" and isinstance(folder.get("id"), int):
            # A smart campaign inside a program that sends no e-mail (an Event) sends none
            # either: flow steps are not readable, the program type is.
            parent = await self._asset(f"/rest/asset/v1/program/{folder['id']}.json")
            campaign = campaign.model_copy(
                update={"sends_email": mapping.program(parent, None).sends_email}
            )
        return campaign

    async def _audience(self, campaign_id: int) -> tuple[str | None, bool]:
        """The static list named by the campaign's "Member of List" filter, and whether that is
        all of it: several lists, or a name that does not resolve to exactly one list, leave
        the audience unknown (the floor then fails closed) rather than silently partial."""
        sl = await self._asset(
            f"/rest/asset/v1/smartCampaign/{campaign_id}/smartList.json", {"includeRules": "true"}
        )
        names = [
            v
            for f in (sl.get("rules") or {}).get("filters", [])
            if f.get("name") == "Member of List"
            for c in f.get("conditions", [])
            for v in c.get("values", [])
        ]
        if not names:
            return None, True
        if len(names) != 1 or "," in names[0]:
            return None, False
        found = (await self._get("/rest/v1/lists.json", {"name": names[0]})).get("result") or []
        if len(found) != 1:
            return None, False
        return mapping.ref(ids.LIST, found[0]["id"]), True

    async def campaign_members(
        self, ref: str, *, cursor: str | None = None, limit: int = 200
    ) -> Page[CampaignMember]:
        obj, cid = native_id(ref, *CAMPAIGN_OBJECTS)
        if obj == ids.SMART_CAMPAIGN:
            raise NotSupportedByVendor(
                VENDOR,
                "campaign_members",
                (
                    "smart campaigns have no member list in Marketo's REST API; read the members "
                    "of the program that owns the campaign"
                ),
            )

        async def fetch(token: str | None, n: int) -> tuple[list[CampaignMember], str | None]:
            params: dict[str, Any] = {"batchSize": min(n, 300)}
            if token:
                params["nextPageToken"] = token
            body = await self._get(f"/rest/v1/programs/{cid}/members.json", params)
            nxt = body.get("nextPageToken") if body.get("moreResult") else None
            return [mapping.program_member(cid, r) for r in body.get("result") or []], nxt

        items, nxt = await phased_page([fetch], cursor, max(1, min(limit, 300)))
        return Page[CampaignMember](items=items, next_cursor=nxt)

    async def person_memberships(self, ref: str) -> Memberships:
        lead = native_id(ref, ids.LEAD)[1]
        list_rows = await self._all(f"/rest/v1/leads/{lead}/listMembership.json")
        prog_rows = await self._all(f"/rest/v1/leads/{lead}/programMembership.json")
        list_ids = [int(r["listId"]) for r in list_rows]
        lists = (
            await self._all("/rest/v1/lists.json", {"id": ",".join(map(str, list_ids))})
            if list_ids
            else []
        )
        return Memberships(
            person_ref=mapping.ref(ids.LEAD, lead),
            lists=[mapping.static_list(r) for r in lists],
            campaigns=[mapping.membership(lead, r) for r in prog_rows],
        )

    async def list_owners(self) -> list[Owner]:
        return [mapping.owner(r) for r in await self._all("/rest/v1/salespersons.json")]

    async def api_budget(self) -> ApiBudget:
        usage = (await self._get("/rest/v1/stats/usage.json")).get("result") or [{}]
        return ApiBudget(
            connector=VENDOR,
            window="20s",
            used_in_window=None,
            limit_in_window=100,
            daily_used=usage[0].get("total"),
            daily_limit=self.daily_limit,
            calls_made_by_mopsgate=self.http.calls,
            notes="Marketo allows 100 calls per 20 s and 10 concurrent calls per "
            "instance, shared by every integration; the daily quota resets "
            "at midnight US Central.",
        )

    # activities ---------------------------------------------------------------------------
    async def _campaign_filter(self, ref: str | None) -> tuple[set[int], int | None] | None:
        """Smart-campaign ids whose activities count for ``ref`` (+ the program id)."""
        if ref is None:
            return None
        obj, cid = native_id(ref, *CAMPAIGN_OBJECTS)
        if obj == ids.SMART_CAMPAIGN:
            return {cid}, None
        folder = json.dumps({"id": cid, "type": "Program"})
        body = await self._get(
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
        rows = (await self._get("/rest/v1/activities/types.json")).get("result") or []
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
                start = await self._get(
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
            body = await self._get("/rest/v1/activities.json", params)
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

"""List reads of the HubSpot client: the Lists API (search, fetch, memberships) and a contact's
list memberships. HubSpot reports no campaign memberships for a contact."""

from __future__ import annotations

from typing import Any

from mopsgate.connectors.hubspot import ids
from mopsgate.connectors.hubspot.capabilities import CAPABILITIES
from mopsgate.connectors.hubspot.mapping import PERSON_PROPERTIES, contact_ref, to_list, to_person
from mopsgate.connectors.hubspot.session import HubSpotSession, chunked, next_after, offset_of
from mopsgate.crm.records import Memberships, Page, Person, PersonList

MEMBERSHIP_MAX_LIMIT = CAPABILITIES.member_page


class HubSpotLists:
    def __init__(self, session: HubSpotSession) -> None:
        self.s = session

    async def list_lists(
        self, *, cursor: str | None = None, limit: int = 50, name_contains: str | None = None
    ) -> Page[PersonList]:
        offset = offset_of(cursor)
        data = await self.s.http.send(
            "POST",
            f"{self.s.paths.lists}/search",
            json={
                "query": name_contains or "",
                "count": max(1, min(limit, 500)),
                "offset": offset,
                "additionalProperties": ["hs_list_size"],
            },
        )
        rows = [x for x in data.get("lists", []) if x.get("objectTypeId", "0-1") == "0-1"]
        nxt = str(data.get("offset", offset + len(rows))) if data.get("hasMore") else None
        return Page(items=[to_list(x) for x in rows], next_cursor=nxt)

    async def get_list(self, ref: str) -> PersonList:
        data = await self.s.http.send("GET", self.s.paths.list(ids.native_id(ref, "list")))
        return to_list(data.get("list", data))

    async def list_members(
        self, list_ref: str, *, cursor: str | None = None, limit: int = 100
    ) -> Page[Person]:
        member_ids, nxt = await self._memberships(list_ref, cursor, limit)
        records = await self.s.batch_read(member_ids, PERSON_PROPERTIES)
        items = [to_person(records[i]) for i in member_ids if i in records]
        return Page(items=items, next_cursor=nxt)

    async def list_member_ids(
        self, list_ref: str, *, cursor: str | None = None, limit: int = 100
    ) -> Page[str]:
        member_ids, nxt = await self._memberships(list_ref, cursor, limit)
        return Page(items=[contact_ref(i) for i in member_ids], next_cursor=nxt)

    async def _memberships(
        self, list_ref: str, cursor: str | None, limit: int
    ) -> tuple[list[str], str | None]:
        """One page of a list's member record ids (the memberships API carries only ids)."""
        list_id = ids.native_id(list_ref, "list")
        params: dict[str, Any] = {"limit": max(1, min(limit, MEMBERSHIP_MAX_LIMIT))}
        if cursor:
            params["after"] = cursor
        data = await self.s.http.send(
            "GET", f"{self.s.paths.list(list_id)}/memberships", params=params
        )
        return [str(r["recordId"]) for r in data.get("results", [])], next_after(data)

    async def person_memberships(self, ref: str) -> Memberships:
        native = ids.native_id(ref, ids.CONTACT)
        data = await self.s.http.send("GET", self.s.paths.record_memberships(native))
        list_ids = [str(r["listId"]) for r in data.get("results", [])]
        lists: list[PersonList] = []
        for chunk in chunked(list_ids):
            got = await self.s.http.send("GET", self.s.paths.lists, params={"listIds": chunk})
            lists += [to_list(x) for x in got.get("lists", [])]
        return Memberships(person_ref=ref, lists=lists, campaigns=[])

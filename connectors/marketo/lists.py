"""List reads of the Marketo client: static lists (lead database) and smart lists (asset API,
read-only, members not readable over REST), and a lead's list and program memberships."""

from __future__ import annotations

from typing import Any

from mopsgate.connectors.marketo import ids, mapping
from mopsgate.connectors.marketo.ids import VENDOR, native_id
from mopsgate.connectors.marketo.people import MarketoPeople, casefold
from mopsgate.connectors.marketo.session import Fetch, MarketoSession, phased_page
from mopsgate.crm.errors import NotFoundError, NotSupportedByVendor
from mopsgate.crm.records import Memberships, Page, Person, PersonList, PersonQuery


class MarketoLists:
    def __init__(self, session: MarketoSession, people: MarketoPeople) -> None:
        self.s = session
        self.people = people

    async def _smart_list(self, list_id: int) -> PersonList | None:
        body = await self.s.get(f"/rest/asset/v1/smartList/{list_id}.json")
        result = body.get("result") or []
        return mapping.smart_list(result[0]) if result else None

    async def list_lists(
        self, *, cursor: str | None = None, limit: int = 50, name_contains: str | None = None
    ) -> Page[PersonList]:
        needle = casefold(name_contains) if name_contains else None

        def keep(items: list[PersonList]) -> list[PersonList]:
            return [i for i in items if needle is None or needle in i.name.casefold()]

        async def static(token: str | None, n: int) -> tuple[list[PersonList], str | None]:
            params: dict[str, Any] = {"batchSize": min(n, 300)}
            if token:
                params["nextPageToken"] = token
            body = await self.s.get("/rest/v1/lists.json", params)
            nxt = body.get("nextPageToken") if body.get("moreResult") else None
            return keep([mapping.static_list(r) for r in body.get("result") or []]), nxt

        async def smart(token: str | None, n: int) -> tuple[list[PersonList], str | None]:
            offset, size = int(token or 0), min(n, 200)
            body = await self.s.get(
                "/rest/asset/v1/smartLists.json", {"offset": offset, "maxReturn": size}
            )
            got = body.get("result") or []
            nxt = str(offset + size) if len(got) == size else None
            return keep([mapping.smart_list(r) for r in got]), nxt

        phases: list[Fetch[PersonList]] = [static, smart]
        items, nxt = await phased_page(phases, cursor, max(1, min(limit, 200)))
        return Page[PersonList](items=items, next_cursor=nxt)

    async def get_list(self, ref: str) -> PersonList:
        list_id = native_id(ref, ids.LIST)[1]
        try:
            result = (await self.s.get(f"/rest/v1/lists/{list_id}.json")).get("result") or []
            if result:
                return mapping.static_list(result[0])
        except NotFoundError:
            pass
        found = await self._smart_list(list_id)
        if found is None:
            raise NotFoundError(VENDOR, f"List {list_id} not found", code="1013")
        return found

    async def refuse_if_smart(self, list_id: int, operation: str, why: str) -> None:
        if await self._smart_list(list_id) is not None:
            raise NotSupportedByVendor(VENDOR, operation, why)

    async def list_members(
        self, list_ref: str, *, cursor: str | None = None, limit: int = 100
    ) -> Page[Person]:
        list_id = native_id(list_ref, ids.LIST)[1]
        try:
            return await self.people.search_people(
                PersonQuery(list_ref=list_ref), cursor=cursor, limit=limit
            )
        except NotFoundError:
            await self.refuse_if_smart(
                list_id,
                "list_members",
                (
                    "smart list members cannot be read over Marketo's REST API (only through a "
                    "Bulk Lead Extract job); use the smart list's rules or a static list"
                ),
            )
            raise

    async def list_member_ids(
        self, list_ref: str, *, cursor: str | None = None, limit: int = 100
    ) -> Page[str]:
        """The list's leads with only their ids, 300 a call."""
        list_id = native_id(list_ref, ids.LIST)[1]
        params: dict[str, Any] = {"fields": "id", "batchSize": max(1, min(limit, 300))}
        if cursor:
            params["nextPageToken"] = cursor
        try:
            body = await self.s.get(f"/rest/v1/lists/{list_id}/leads.json", params)
        except NotFoundError:
            await self.refuse_if_smart(
                list_id, "list_members", "smart list members cannot be read over Marketo's REST API"
            )
            raise
        items = [mapping.ref(ids.LEAD, r["id"]) for r in body.get("result") or []]
        nxt = body.get("nextPageToken") if body.get("moreResult") else None
        return Page(items=items, next_cursor=nxt)

    async def person_memberships(self, ref: str) -> Memberships:
        lead = native_id(ref, ids.LEAD)[1]
        list_rows = await self.s.collect(f"/rest/v1/leads/{lead}/listMembership.json")
        prog_rows = await self.s.collect(f"/rest/v1/leads/{lead}/programMembership.json")
        list_ids = [int(r["listId"]) for r in list_rows]
        lists = (
            await self.s.collect("/rest/v1/lists.json", {"id": ",".join(map(str, list_ids))})
            if list_ids
            else []
        )
        return Memberships(
            person_ref=mapping.ref(ids.LEAD, lead),
            lists=[mapping.static_list(r) for r in lists],
            campaigns=[mapping.membership(lead, r) for r in prog_rows],
        )

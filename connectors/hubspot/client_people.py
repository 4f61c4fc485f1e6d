"""Contact and list reads: search, get, batch get, describe, lists and memberships."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mopsgate.connectors.errors import InvalidRequest
from mopsgate.connectors.hubspot import ids
from mopsgate.connectors.hubspot.client_base import HubSpotBase, chunked
from mopsgate.connectors.hubspot.mapping import PERSON_PROPERTIES, to_field_info, to_list, to_person
from mopsgate.connectors.hubspot.query import filter_groups, matches
from mopsgate.connectors.model import (
    FieldInfo,
    Memberships,
    Page,
    Person,
    PersonList,
    PersonQuery,
)

SEARCH_MAX_LIMIT = 200
SEARCH_CEILING = 10_000
MEMBERSHIP_MAX_LIMIT = 250
_KEYSET = "gt:"


class PeopleReads(HubSpotBase):
    async def search_people(
        self, query: PersonQuery, *, cursor: str | None = None, limit: int = 50
    ) -> Page[Person]:
        if query.object not in (None, ids.CONTACT):
            raise InvalidRequest(
                ids.VENDOR,
                f"HubSpot has no person object {query.object!r}; use 'contact'",
                code="unknown_object",
            )
        limit = max(1, min(limit, SEARCH_MAX_LIMIT))
        if query.list_ref:
            return await self._search_in_list(query, cursor, limit)
        offset, after_id = _parse_search_cursor(cursor)
        body: dict[str, Any] = {
            "filterGroups": filter_groups(query, after_id),
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": PERSON_PROPERTIES,
            "limit": limit,
            "after": str(offset),
        }
        async with self.search_limiter:
            data = await self.http.send("POST", f"{self.paths.contacts}/search", json=body)
        records = data.get("results", []) if isinstance(data, dict) else []
        people = [to_person(r) for r in records]
        items = [p for p in people if matches(p, query)]
        nxt = _next_search_cursor(data, offset, limit, records, keyset=after_id is not None)
        return Page(items=items, next_cursor=nxt)

    async def _search_in_list(
        self, query: PersonQuery, cursor: str | None, limit: int
    ) -> Page[Person]:
        """HubSpot search cannot filter on list membership: walk the list, read the records
        in batches and apply the rest of the query locally."""
        page = await self.list_members(query.list_ref or "", cursor=cursor, limit=limit)
        return Page(
            items=[p for p in page.items if matches(p, query)], next_cursor=page.next_cursor
        )

    async def get_person(self, ref: str) -> Person:
        native = self.native_id(ref, ids.CONTACT)
        data = await self.http.send(
            "GET", self.paths.contact(native), params={"properties": ",".join(PERSON_PROPERTIES)}
        )
        return to_person(data)

    async def get_people(self, refs: Sequence[str]) -> dict[str, Person]:
        valid, _invalid = self.split_refs(refs)
        records = await self.batch_read(list(valid.values()), PERSON_PROPERTIES)
        return {
            ref: to_person(records[native]) for ref, native in valid.items() if native in records
        }

    async def describe_fields(self, obj: str) -> list[FieldInfo]:
        if obj != ids.CONTACT:
            raise InvalidRequest(
                ids.VENDOR,
                f"HubSpot has no person object {obj!r}; use 'contact'",
                code="unknown_object",
            )
        data = await self.http.send(
            "GET", self.paths.contact_properties, params={"archived": "false"}
        )
        return [to_field_info(p) for p in (data or {}).get("results", [])]

    # lists --------------------------------------------------------------------------------
    async def list_lists(
        self, *, cursor: str | None = None, limit: int = 50, name_contains: str | None = None
    ) -> Page[PersonList]:
        offset = _offset(cursor)
        data = await self.http.send(
            "POST",
            f"{self.paths.lists}/search",
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
        data = await self.http.send("GET", self.paths.list(self.native_id(ref, "list")))
        return to_list(data.get("list", data))

    async def list_members(
        self, list_ref: str, *, cursor: str | None = None, limit: int = 100
    ) -> Page[Person]:
        list_id = self.native_id(list_ref, "list")
        params: dict[str, Any] = {"limit": max(1, min(limit, MEMBERSHIP_MAX_LIMIT))}
        if cursor:
            params["after"] = cursor
        data = await self.http.send("GET", f"{self.paths.list(list_id)}/memberships", params=params)
        member_ids = [str(r["recordId"]) for r in data.get("results", [])]
        records = await self.batch_read(member_ids, PERSON_PROPERTIES)
        items = [to_person(records[i]) for i in member_ids if i in records]
        return Page(items=items, next_cursor=_next_after(data))

    async def person_memberships(self, ref: str) -> Memberships:
        native = self.native_id(ref, ids.CONTACT)
        data = await self.http.send("GET", self.paths.record_memberships(native))
        list_ids = [str(r["listId"]) for r in data.get("results", [])]
        lists: list[PersonList] = []
        for chunk in chunked(list_ids):
            got = await self.http.send("GET", self.paths.lists, params={"listIds": chunk})
            lists += [to_list(x) for x in got.get("lists", [])]
        return Memberships(person_ref=ref, lists=lists, campaigns=[])


def _offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    if not cursor.isdigit():
        raise InvalidRequest(ids.VENDOR, f"invalid cursor {cursor!r}", code="invalid_cursor")
    return int(cursor)


def _next_after(data: Any) -> str | None:
    nxt = ((data or {}).get("paging") or {}).get("next") or {}
    after = nxt.get("after")
    return str(after) if after else None


def _parse_search_cursor(cursor: str | None) -> tuple[int, str | None]:
    """Plain digits: HubSpot's ``after`` offset. ``gt:<id>``: keyset paging past the
    10,000-result search ceiling (filter ``hs_object_id > id``, sorted by id)."""
    if cursor and cursor.startswith(_KEYSET) and cursor[len(_KEYSET) :].isdigit():
        return 0, cursor[len(_KEYSET) :]
    return _offset(cursor), None


def _next_search_cursor(
    data: Any, offset: int, limit: int, records: list[Any], *, keyset: bool
) -> str | None:
    nxt = _next_after(data)
    total = int((data or {}).get("total", 0))
    if nxt is None and total <= offset + len(records):
        return None
    if not records:
        return None
    if not keyset and nxt is not None and nxt.isdigit() and int(nxt) + limit <= SEARCH_CEILING:
        return nxt
    return f"{_KEYSET}{records[-1]['id']}"

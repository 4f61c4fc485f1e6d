"""Contact reads of the HubSpot client: search (with keyset paging past HubSpot's 10,000-result
ceiling), get, batch get and describe."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mopsgate.connectors.hubspot import ids
from mopsgate.connectors.hubspot.capabilities import CAPABILITIES
from mopsgate.connectors.hubspot.lists import HubSpotLists
from mopsgate.connectors.hubspot.mapping import PERSON_PROPERTIES, to_field_info, to_person
from mopsgate.connectors.hubspot.query import filter_groups, matches
from mopsgate.connectors.hubspot.session import HubSpotSession, chunked, next_after, offset_of
from mopsgate.connectors.records_check import unique
from mopsgate.crm.errors import InvalidRequest
from mopsgate.crm.records import FieldInfo, Page, Person, PersonQuery

SEARCH_MAX_LIMIT = CAPABILITIES.search_page
SEARCH_CEILING = 10_000
_KEYSET = "gt:"


class HubSpotPeople:
    def __init__(self, session: HubSpotSession, lists: HubSpotLists) -> None:
        self.s = session
        self.lists = lists

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
        data = await self._search(filter_groups(query, after_id), offset, limit)
        records = data.get("results", []) if isinstance(data, dict) else []
        people = unique(ids.VENDOR, (to_person(r) for r in records))
        items = [p for p in people if matches(p, query)]
        nxt = _next_search_cursor(data, offset, limit, records, keyset=after_id is not None)
        return Page(items=items, next_cursor=nxt)

    async def _search(self, groups: list[dict[str, Any]], offset: int, limit: int) -> Any:
        """One CRM search call, sorted by id so offsets page stably, inside the search limit."""
        body: dict[str, Any] = {
            "filterGroups": groups,
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": PERSON_PROPERTIES,
            "limit": limit,
            "after": str(offset),
        }
        async with self.s.search_limiter:
            return await self.s.http.send("POST", f"{self.s.paths.contacts}/search", json=body)

    async def people_by_email(self, emails: Sequence[str]) -> list[Person]:
        """``email IN (…)`` searches of 100 addresses, lower-cased (HubSpot keeps emails in
        lower case and matches IN values on text exactly), each read to its last page."""
        out: dict[str, Person] = {}
        for chunk in chunked(list(dict.fromkeys(e.strip().lower() for e in emails))):
            groups = [{"filters": [{"propertyName": "email", "operator": "IN", "values": chunk}]}]
            offset: str | None = "0"
            while offset is not None:
                data = await self._search(groups, offset_of(offset), SEARCH_MAX_LIMIT)
                found = (to_person(r) for r in (data or {}).get("results", []))
                out.update((p.ref, p) for p in unique(ids.VENDOR, found))
                offset = next_after(data)
        return list(out.values())

    async def _search_in_list(
        self, query: PersonQuery, cursor: str | None, limit: int
    ) -> Page[Person]:
        """HubSpot search cannot filter on list membership: walk the list, read the records
        in batches and apply the rest of the query locally."""
        page = await self.lists.list_members(query.list_ref or "", cursor=cursor, limit=limit)
        return Page(
            items=[p for p in page.items if matches(p, query)], next_cursor=page.next_cursor
        )

    async def get_person(self, ref: str) -> Person:
        native = ids.native_id(ref, ids.CONTACT)
        data = await self.s.http.send(
            "GET", self.s.paths.contact(native), params={"properties": ",".join(PERSON_PROPERTIES)}
        )
        return to_person(data)

    async def get_people(self, refs: Sequence[str]) -> dict[str, Person]:
        valid, _invalid = self.s.split_refs(refs)
        records = await self.s.batch_read(list(valid.values()), PERSON_PROPERTIES)
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
        data = await self.s.http.send(
            "GET", self.s.paths.contact_properties, params={"archived": "false"}
        )
        return [to_field_info(p) for p in (data or {}).get("results", [])]


def _parse_search_cursor(cursor: str | None) -> tuple[int, str | None]:
    """Plain digits: HubSpot's ``after`` offset. ``gt:<id>``: keyset paging past the
    10,000-result search ceiling (filter ``hs_object_id > id``, sorted by id)."""
    if cursor and cursor.startswith(_KEYSET) and cursor[len(_KEYSET) :].isdigit():
        return 0, cursor[len(_KEYSET) :]
    return offset_of(cursor), None


def _next_search_cursor(
    data: Any, offset: int, limit: int, records: list[Any], *, keyset: bool
) -> str | None:
    nxt = next_after(data)
    total = int((data or {}).get("total", 0))
    if nxt is None and total <= offset + len(records):
        return None
    if not records:
        return None
    if not keyset and nxt is not None and nxt.isdigit() and int(nxt) + limit <= SEARCH_CEILING:
        return nxt
    return f"{_KEYSET}{records[-1]['id']}"

"""Person reads of the Marketo client.

Marketo searches only by exact-match keys (``filterType``), so ``search_people`` picks one
server-side scope (list, email, owner, company, lifecycle stage, or the last word of a name as
``lastName``) that the instance's ``describe2`` lists as searchable, and applies every other
filter of the query client-side over that scope. A query with no such key is refused with
``NotSupportedByVendor``: listing all leads needs a Bulk Lead Extract.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from mopsgate.connectors.lookups import url_sized_chunks
from mopsgate.connectors.marketo import ids, mapping
from mopsgate.connectors.marketo.capabilities import CAPABILITIES
from mopsgate.connectors.marketo.ids import VENDOR, native_id
from mopsgate.connectors.marketo.session import MarketoSession, chunks, phased_page
from mopsgate.connectors.records_check import unique
from mopsgate.connectors.schema import MARKETO_LEAD
from mopsgate.crm.errors import InvalidRequest, NotFoundError, NotSupportedByVendor
from mopsgate.crm.records import FieldInfo, Page, Person, PersonQuery

FIELDS_PARAM = ",".join(mapping.FIELD_NAMES)
_SPECS = {s.name: s for s in MARKETO_LEAD}


def casefold(value: Any) -> str:
    return str(value or "").strip().casefold()


def matches(p: Person, q: PersonQuery) -> bool:
    """Client-side filters over a server-side scope (exact and case-blind; name is a
    substring of "first last")."""
    f = p.fields
    full_name = f"{f.get('firstName') or ''} {f.get('lastName') or ''}"
    return not (
        (q.email is not None and casefold(f.get("email")) != casefold(q.email))
        or (q.company is not None and casefold(f.get("company")) != casefold(q.company))
        or (q.lifecycle_stage is not None and f.get("mktoLifecycleStage") != q.lifecycle_stage)
        or (
            q.owner_id is not None
            and str(f.get("externalSalesPersonId")) != _owner_value(q.owner_id)
        )
        or (q.name is not None and casefold(q.name) not in casefold(full_name))
        or (q.consent is not None and p.consent.status != q.consent)
    )


def _owner_value(owner: str) -> str:
    """Owner filters accept the sales person id or its ref ``marketo:sales_person:<id>``."""
    if ":" in owner:
        return str(native_id(owner, ids.SALES_PERSON)[1])
    return owner.strip()


class MarketoPeople:
    def __init__(self, session: MarketoSession) -> None:
        self.s = session
        self._searchable: frozenset[str] | None = None

    async def _describe(self) -> dict[str, Any]:
        body = await self.s.get("/rest/v1/leads/describe2.json")
        result = body.get("result") or [{}]
        info: dict[str, Any] = result[0]
        self._searchable = frozenset(k[0] for k in info.get("searchableFields", []) if len(k) == 1)
        return info

    async def describe_fields(self, obj: str) -> list[FieldInfo]:
        if obj != ids.LEAD:
            raise InvalidRequest(VENDOR, f"unknown person object {obj!r}; Marketo has 'lead'")
        out: list[FieldInfo] = []
        for f in (await self._describe()).get("fields", []):
            spec = _SPECS.get(f["name"])
            out.append(
                FieldInfo(
                    name=f["name"],
                    label=f.get("displayName") or f["name"],
                    type=spec.type if spec else str(f.get("dataType", "string")),
                    pii=bool(f.get("isSensitive")),
                    read_only=not f.get("updateable", True),
                    consent=bool(spec and spec.consent),
                    lifecycle=bool(spec and spec.lifecycle),
                    picklist=list(spec.picklist) if spec else [],
                )
            )
        return out

    async def _scope(self, q: PersonQuery) -> tuple[str, list[str]] | None:
        """The server-side filter (filterType, values) for a query, or None for a list scope."""
        if q.list_ref:
            return None
        if self._searchable is None:
            await self._describe()
        owner = _owner_value(q.owner_id) if q.owner_id else None
        last = q.name.split()[-1] if q.name and q.name.split() else None
        for filter_type, value in (
            ("email", q.email),
            ("externalSalesPersonId", owner),
            ("company", q.company),
            ("mktoLifecycleStage", q.lifecycle_stage),
            ("lastName", last),
        ):
            if value and "," not in value and filter_type in (self._searchable or ()):
                return filter_type, [value.strip()]
        raise NotSupportedByVendor(
            VENDOR,
            "search_people",
            (
                "Marketo looks leads up only by exact keys (email, list, owner, company, lifecycle "
                "stage, last name); consent-only, empty or name-fragment queries would need a Bulk "
                "Lead Extract. Add one of those filters."
            ),
        )

    async def search_people(
        self, query: PersonQuery, *, cursor: str | None = None, limit: int = 50
    ) -> Page[Person]:
        if query.object not in (None, ids.LEAD):
            raise InvalidRequest(VENDOR, f"unknown person object {query.object!r}")
        scope = await self._scope(query)
        list_id = native_id(query.list_ref, ids.LIST)[1] if query.list_ref else None

        async def fetch(token: str | None, n: int) -> tuple[list[Person], str | None]:
            params: dict[str, Any] = {"fields": FIELDS_PARAM, "batchSize": min(n, 300)}
            if token:
                params["nextPageToken"] = token
            if scope is None:
                path = f"/rest/v1/lists/{list_id}/leads.json"
            else:
                path = "/rest/v1/leads.json"
                params.update(filterType=scope[0], filterValues=",".join(scope[1]))
            body = await self.s.get(path, params)
            people = unique(VENDOR, (mapping.person(r) for r in body.get("result") or []))
            nxt = body.get("nextPageToken") if body.get("moreResult") else None
            return [p for p in people if matches(p, query)], nxt

        items, nxt = await phased_page([fetch], cursor, max(1, min(limit, 300)))
        return Page[Person](items=items, next_cursor=nxt)

    async def get_person(self, ref: str) -> Person:
        lead = native_id(ref, ids.LEAD)[1]
        body = await self.s.get(f"/rest/v1/lead/{lead}.json", {"fields": FIELDS_PARAM})
        result = body.get("result") or []
        if not result:
            raise NotFoundError(VENDOR, f"Lead {lead} not found", code="1004")
        return mapping.person(result[0])

    async def get_people(self, refs: Sequence[str]) -> dict[str, Person]:
        wanted: list[int] = []
        for ref in refs:
            try:
                wanted.append(native_id(ref, ids.LEAD)[1])
            except InvalidRequest:
                continue  # not a Marketo lead: absent from the result, like a missing one
        out: dict[str, Person] = {}
        for part in chunks(sorted(set(wanted)), CAPABILITIES.read_batch):
            out.update((p.ref, p) for p in await self._by_filter("id", map(str, part)))
        return out

    async def people_by_email(self, emails: Sequence[str]) -> list[Person]:
        """``filterType=email`` (Marketo compares emails case-blind): 300 values a call, fewer
        when 300 addresses would push the URI past Marketo's 8 KB."""
        if bad := [e for e in emails if "," in e]:
            raise InvalidRequest(
                VENDOR,
                f"{len(bad)} email(s) contain ',' and cannot be looked up: Marketo separates "
                "filterValues with commas",
            )
        out: dict[str, Person] = {}
        for part in url_sized_chunks((e.strip() for e in emails), CAPABILITIES.read_batch):
            out.update((p.ref, p) for p in await self._by_filter("email", part))
        return list(out.values())

    async def _by_filter(self, filter_type: str, values: Iterable[str]) -> list[Person]:
        """Every lead matching one call's ``filterValues``, read to the last page."""
        params: dict[str, Any] = {
            "filterType": filter_type,
            "filterValues": ",".join(values),
            "fields": FIELDS_PARAM,
            "batchSize": 300,
        }
        found: list[Person] = []
        while True:
            body = await self.s.get("/rest/v1/leads.json", params)
            found.extend(mapping.person(rec) for rec in body.get("result") or [])
            if not body.get("moreResult"):
                return unique(VENDOR, found)
            params["nextPageToken"] = body.get("nextPageToken")

"""Person reads of the Salesforce client: search, get, batch get and describe.

A search without an object walks Leads, then Contacts; its cursor says which object it is in
(``Lead|<page cursor>``) so paging never repeats or skips a record. Batch reads are
``Id IN (...)`` queries of ≤200 ids, so planning over 10,000 people costs ~50 calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mopsgate.connectors.lookups import url_sized_chunks
from mopsgate.connectors.records_check import unique
from mopsgate.connectors.salesforce import fields as cat
from mopsgate.connectors.salesforce import ids
from mopsgate.connectors.salesforce import mapping as m
from mopsgate.connectors.salesforce.errors import Record
from mopsgate.connectors.salesforce.session import MAX_BATCH, SalesforceSession
from mopsgate.connectors.salesforce.soql_build import Clause, Select
from mopsgate.connectors.schema import field_by_role
from mopsgate.crm.errors import InvalidRequest, MalformedResponse
from mopsgate.crm.records import FieldInfo, Page, Person, PersonQuery
from mopsgate.crm.refs import parse_ref


class SalesforcePeople:
    def __init__(self, session: SalesforceSession) -> None:
        self.s = session

    async def search_people(
        self, query: PersonQuery, *, cursor: str | None = None, limit: int = 50
    ) -> Page[Person]:
        objects = self._search_objects(query)
        start, inner = 0, None
        if cursor:
            obj, _, rest = cursor.partition("|")
            if obj not in objects:
                raise InvalidRequest(
                    ids.VENDOR, "cursor was not issued by this search", code="INVALID_CURSOR"
                )
            start, inner = objects.index(obj), rest or None
        items: list[Person] = []
        for i, obj in enumerate(objects[start:], start):
            rows, nxt = await self.s.query_page(
                self._search_soql(obj, query), inner, limit - len(items)
            )
            items.extend(unique(ids.VENDOR, (m.to_person(obj, r) for r in rows)))
            inner = None
            if nxt:
                return Page(items=items, next_cursor=f"{obj}|{nxt}")
            if len(items) >= limit:
                more = i + 1 < len(objects)
                return Page(items=items, next_cursor=f"{objects[i + 1]}|" if more else None)
        return Page(items=items, next_cursor=None)

    @staticmethod
    def _search_objects(query: PersonQuery) -> tuple[str, ...]:
        if query.object is None:
            return ids.PERSON_OBJECTS
        if query.object not in ids.PERSON_OBJECTS:
            raise InvalidRequest(
                ids.VENDOR,
                f"object {query.object!r} is not a Salesforce person object; use Lead or Contact",
                code="INVALID_TYPE",
            )
        return (query.object,)

    def _search_soql(self, obj: str, query: PersonQuery) -> str:
        q = Select(obj, m.person_fields(obj))
        if query.email is not None:
            q.where(q.eq("Email", query.email))
        if query.name:
            q.where(q.like_contains(cat.NAME_FIELD, query.name))
        if query.company:
            company = field_by_role(ids.VENDOR, obj, "company")
            assert company is not None
            q.where(q.like_contains(company.name, query.company))
        if query.list_ref:
            _, campaign = self.s.native(query.list_ref, (ids.CAMPAIGN,))
            sub = Select(ids.CAMPAIGN_MEMBER, ["ContactId" if obj == ids.CONTACT else "LeadId"])
            q.where(q.in_select("Id", sub.where(sub.eq("CampaignId", campaign))))
        if query.lifecycle_stage:
            q.where(q.eq("Lifecycle_Stage__c", query.lifecycle_stage))
        if query.owner_id:
            owner = owner_native(query.owner_id)
            if not ids.valid_id(owner):
                raise InvalidRequest(
                    ids.VENDOR, f"owner id {owner!r} is not a Salesforce id", code="INVALID_ID"
                )
            q.where(q.eq("OwnerId", owner))
        if query.consent:
            q.where(*_consent_clauses(q, query.consent))
        return q.order_by("Id").render()

    async def get_person(self, ref: str) -> Person:
        obj, native = self.s.native(ref, ids.PERSON_OBJECTS)
        body = await self.s.http.send(
            "GET",
            self.s.path("sobjects", obj, native),
            params={"fields": ",".join(m.person_fields(obj))},
        )
        if not isinstance(body, dict):
            raise MalformedResponse(ids.VENDOR, f"{obj} record is not an object")
        return m.to_person(obj, body)

    async def get_people(self, refs: Sequence[str]) -> dict[str, Person]:
        wanted: dict[str, dict[str, str]] = {o: {} for o in ids.PERSON_OBJECTS}
        for ref in refs:
            try:
                obj, native = ids.parse_native(ref, ids.PERSON_OBJECTS)
            except ValueError:
                continue  # not ours or malformed: absent, as for a missing record
            wanted[obj][native] = ref
        out: dict[str, Person] = {}
        for obj, natives in wanted.items():
            keys = list(natives)
            for start in range(0, len(keys), MAX_BATCH):
                rows = await self._rows_where_in(obj, "Id", keys[start : start + MAX_BATCH])
                for person in unique(ids.VENDOR, (m.to_person(obj, row) for row in rows)):
                    hit = natives.get(person.ref.rpartition(":")[2])
                    if hit is not None:
                        out[hit] = person
        return out

    async def people_by_email(self, emails: Sequence[str]) -> list[Person]:
        """``Email IN (…)`` on Leads and on Contacts (SOQL compares text case-blind, and one
        person is often both): 200 addresses a query, fewer when they would make the query's
        URL too long."""
        out: dict[str, Person] = {}
        for obj in ids.PERSON_OBJECTS:
            for part in url_sized_chunks((e.strip() for e in emails), MAX_BATCH):
                rows = await self._rows_where_in(obj, "Email", part)
                for person in unique(ids.VENDOR, (m.to_person(obj, row) for row in rows)):
                    out[person.ref] = person
        return list(out.values())

    async def _rows_where_in(self, obj: str, field: str, values: Sequence[str]) -> list[Record]:
        q = Select(obj, m.person_fields(obj))
        q.where(q.in_(field, values))
        return await self.s.query_all(q.render())

    async def describe_fields(self, obj: str) -> list[FieldInfo]:
        if obj not in ids.PERSON_OBJECTS:
            raise InvalidRequest(
                ids.VENDOR,
                f"describe_fields supports {ids.PERSON_OBJECTS}, not {obj!r}",
                code="INVALID_TYPE",
            )
        body = await self.s.http.send("GET", self.s.path("sobjects", obj, "describe"))
        if not isinstance(body, dict) or not isinstance(body.get("fields"), list):
            raise MalformedResponse(ids.VENDOR, "describe without a fields list")
        return [_field_info(obj, f) for f in body["fields"] if isinstance(f, dict)]


def _consent_clauses(q: Select, status: str) -> list[Clause]:
    """The same verdict ``consent_from_fields`` reaches, as SOQL conditions."""
    if status == "opted_out":
        return [q.eq("HasOptedOutOfEmail", True)]
    clauses = [q.eq("HasOptedOutOfEmail", False)]
    if status == "suppressed":
        return [*clauses, q.cmp("EmailBouncedReason", "!=", None)]
    clauses.append(q.eq("EmailBouncedReason", None))
    if status == "unknown":
        return [*clauses, q.eq("Consent_Basis__c", None)]
    return [*clauses, q.cmp("Consent_Basis__c", "!=", None)]


def _field_info(obj: str, f: dict[str, Any]) -> FieldInfo:
    specs = {s.name: s for s in cat.person_specs(obj)}
    spec = specs.get(str(f.get("name")))
    sf_type = str(f.get("type") or "string")
    group = str(f.get("complianceGroup") or "")
    return FieldInfo(
        name=str(f.get("name")),
        label=str(f.get("label") or f.get("name")),
        type=spec.type if spec else cat.FROM_SF_TYPES.get(sf_type, sf_type),
        pii=(spec.pii if spec else False) or "PII" in group.split(";"),
        consent=spec.consent if spec else False,
        read_only=not f.get("updateable", False),
        lifecycle=spec.lifecycle if spec else False,
        picklist=[
            str(p["value"])
            for p in f.get("picklistValues") or []
            if isinstance(p, dict) and p.get("active", True)
        ],
    )


def owner_native(owner: str) -> str:
    """The user id inside an owner reference (``salesforce:User:<id>``), or the id itself."""
    try:
        return parse_ref(owner).id
    except ValueError:
        return owner

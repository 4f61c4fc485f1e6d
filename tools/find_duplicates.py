"""find_duplicates: groups of people sharing a normalised email, or a name and company.

Bounded like every scan here (``scan_pages``): it says when it stopped early rather than report a
partial answer as complete.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from mopsgate.crm.connector import Connector
from mopsgate.crm.errors import NotSupportedByVendor
from mopsgate.crm.records import Person, PersonQuery
from mopsgate.crm.refs import parse_ref
from mopsgate.governance.catalogue import Catalogue
from mopsgate.governance.hygiene import clean_text
from mopsgate.governance.pii import mask_email
from mopsgate.governance.policy import FieldAccess
from mopsgate.tools.common import (
    ConnectorName,
    Cursor,
    Ref,
    connector,
    list_ref,
    not_supported,
    person_objects,
    read_access,
    readable_objects,
    same_connector,
    scanned_once,
)
from mopsgate.tools.paging import Cursor as PageCursor
from mopsgate.tools.paging import decode_cursor, encode_cursor
from mopsgate.tools.person_matching import ObjectRights
from mopsgate.tools.scan_pages import MAX_SCAN, list_fetch, pages
from mopsgate.tools.spec import Target, ToolContext, ToolInput


class DuplicatesIn(ToolInput):
    connector: ConnectorName
    object: str | None = Field(
        None, description="person object; default: every person object of the connector"
    )
    list_ref: Ref | None = Field(None, description="only look inside this list")
    match: Literal["email", "name+company", "any"] = Field(
        "any",
        description="'email' (same normalised address: the same person), 'name+company' (same "
        "name at the same company: often two different people), or both",
    )
    limit: Annotated[int, Field(ge=1, le=100, description="groups per page")] = 50
    cursor: Cursor = None

    def target(self) -> Target:
        return Target(self.connector, self.object).or_(Target.of(self.list_ref))


Confidence = Literal["high", "medium", "low"]


class DuplicateGroup(BaseModel):
    match: str = Field(description="'email' or 'name+company'")
    key: str = Field(description="the shared value, masked")
    people: list[str]
    confidence: Confidence = Field(
        description="high: same address; medium: same name and company and addresses that "
        "differ only by a suffix at one domain; low: same name and company only (as often "
        "two different people: check before merging)"
    )
    why: str
    suggested_survivor: str = Field(
        description="the record to keep in a merge: one whose consent is not 'subscribed' if "
        "any (so an opt-out survives), then the most complete, then the oldest"
    )


class DuplicatesOut(BaseModel):
    groups: list[DuplicateGroup]
    total_groups: int
    by_confidence: dict[str, int]
    next_cursor: str | None = Field(description="pass back for the next page of groups")
    records_scanned: int
    complete: bool = Field(description="false when the scan stopped at its cap")


def normalise(text: str | None) -> str:
    return " ".join(clean_text(text or "", 400).text.split()).casefold()


def _keys(cat: Catalogue, person: Person, access: FieldAccess) -> list[tuple[str, str]]:
    """Match keys built only from fields the principal may read: grouping on a withheld
    field would reveal what it withholds."""

    def value(role: str) -> str:
        name = cat.field_for(parse_ref(person.ref).connector, person.object, role)
        return normalise(person.fields.get(name)) if name and access.can_read(name) else ""

    keys = []
    if email := value("email"):
        keys.append(("email", email))
    name = " ".join(x for x in (value("first_name"), value("last_name")) if x)
    company = value("company")
    if name and company:
        keys.append(("name+company", f"{name} @ {company}"))
    return keys


def _mask_key(kind: str, key: str) -> str:
    if kind == "email":
        return mask_email(key)
    name, _, company = key.partition(" @ ")
    return " ".join(p[:1] + "***" for p in name.split()) + " @ " + company


def _duplicate_source(
    ctx: ToolContext, client: Connector, args: DuplicatesIn, budget: list[int]
) -> AsyncIterator[Any]:
    if args.list_ref:
        same_connector(args.connector, list_ref(ctx.manifest.catalogue, args.list_ref))
        return pages(list_fetch(client, args.list_ref), budget)
    every = person_objects(ctx.manifest.catalogue, args.connector, args.object)
    objects = readable_objects(ctx, args.connector, every, "find_duplicates")
    query = PersonQuery(object=objects[0] if len(objects) < len(every) or args.object else None)
    page = client.capabilities.search_page
    return pages(lambda cur: client.search_people(query, cursor=cur, limit=page), budget)


_SEPARATORS = ".-_+"


def _local_parts_agree(emails: list[str]) -> bool:
    """Addresses at one domain whose local parts differ only by a suffix after a separator
    ('jane.doe' and 'jane.doe.old'): how re-imports and form fills duplicate a person."""
    parts = [e.partition("@") for e in emails if "@" in e]
    if len(parts) != len(emails) or len({d for _, _, d in parts}) != 1:
        return False
    locals_ = sorted({lp for lp, _, _ in parts}, key=len)
    root = locals_[0]
    return all(
        lp == root or (lp.startswith(root) and lp[len(root)] in _SEPARATORS) for lp in locals_[1:]
    )


def _confidence(kind: str, emails: list[str]) -> tuple[Confidence, str]:
    if kind == "email":
        return "high", "the same address after normalising case and spaces"
    if _local_parts_agree(emails):
        return "medium", "same name and company, and addresses that differ only by a suffix"
    return "low", "same name and company only: as often two different people"


def _emails(
    cat: Catalogue, conn: str, people: list[Person], access: dict[str, FieldAccess]
) -> list[str]:
    """Normalised addresses (only the confidence drawn from them is shown); one the principal
    may not read counts as none, so a withheld field never raises a confidence."""
    out = []
    for p in people:
        name = cat.field_for(conn, p.object, "email")
        readable = name is not None and access[p.object].can_read(name)
        out.append(normalise(str(p.fields.get(name) or "")) if name and readable else "")
    return out


def _survivor(people: list[Person], access: dict[str, FieldAccess]) -> str:
    """Keep an opt-out (a merge must never drop one), then the most complete, the oldest —
    judged on the fields the caller may read, so the choice says nothing about the others."""
    guarded = [p for p in people if p.consent.status != "subscribed"] or people

    def seen(p: Person, name: str) -> object:
        return p.fields.get(name) if access[p.object].can_read(name) else None

    def rank(p: Person) -> tuple[int, str, str]:
        filled = sum(seen(p, n) not in (None, "") for n in p.fields)
        return (-filled, str(seen(p, "createdAt") or seen(p, "CreatedDate") or ""), p.ref)

    return min(guarded, key=rank).ref


@dataclass(frozen=True)
class _Groups:
    """Everything one duplicates query found, before paging (kept for its later pages)."""

    found: list[tuple[tuple[str, str], list[str]]]  # (match kind, key) -> refs, in key order
    seen: dict[str, Person]
    access: dict[str, FieldAccess]
    by_confidence: dict[str, int]
    scanned: int
    complete: bool


async def _groups(ctx: ToolContext, client: Connector, args: DuplicatesIn) -> _Groups:
    """Scan the list or the database and group people on the keys the caller may read."""
    budget = [MAX_SCAN]
    groups: dict[tuple[str, str], list[str]] = {}
    seen: dict[str, Person] = {}
    access: dict[str, FieldAccess] = {}
    cat = ctx.manifest.catalogue
    scanned = 0
    readable_object = ObjectRights(ctx, "find_duplicates").allows
    try:
        async for person in _duplicate_source(ctx, client, args, budget):
            if not readable_object(person):
                continue  # a list may hold objects the caller may not read: never grouped
            scanned += 1
            if person.object not in access:
                access[person.object] = read_access(
                    ctx, args.connector, person.object, "find_duplicates"
                )
            seen[person.ref] = person
            for match_key in _keys(cat, person, access[person.object]):
                if args.match in ("any", match_key[0]):
                    groups.setdefault(match_key, []).append(person.ref)
    except NotSupportedByVendor as exc:
        raise not_supported(
            "find_duplicates over the whole database", exc, "Pass list_ref to look inside a list."
        ) from exc
    found = sorted(((k, refs) for k, refs in groups.items() if len(refs) > 1), key=lambda g: g[0])
    levels: dict[str, int] = {}
    for (kind, _), refs in found:
        level = _confidence(kind, _emails(cat, args.connector, [seen[r] for r in refs], access))[0]
        levels[level] = levels.get(level, 0) + 1
    return _Groups(found, seen, access, levels, scanned, budget[0] > 0)


async def find_duplicates(ctx: ToolContext, args: DuplicatesIn) -> DuplicatesOut:
    client = connector(ctx, args.connector)
    cat = ctx.manifest.catalogue
    query = {"tool": "find_duplicates", **args.model_dump(mode="json", exclude={"cursor", "limit"})}
    start = decode_cursor(args.cursor, query).skip
    kept = await scanned_once(ctx, _Groups, query, args.cursor, lambda: _groups(ctx, client, args))
    found, seen, access = kept.found, kept.seen, kept.access
    page = found[start : start + args.limit]
    out = []
    for (kind, key), refs in page:
        people = [seen[r] for r in sorted(refs)]
        level, why = _confidence(kind, _emails(cat, args.connector, people, access))
        out.append(
            DuplicateGroup(
                match=kind,
                key=_mask_key(kind, key),
                people=sorted(refs),
                confidence=level,
                why=why,
                suggested_survivor=_survivor(people, access),
            )
        )
    end = start + len(page)
    ctx.notes.summary = f"{len(found)} duplicate groups, showing {start}-{end}"
    return DuplicatesOut(
        groups=out,
        total_groups=len(found),
        by_confidence=kept.by_confidence,
        next_cursor=encode_cursor(PageCursor(None, end), query) if end < len(found) else None,
        records_scanned=kept.scanned,
        complete=kept.complete,
    )

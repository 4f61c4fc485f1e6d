"""Data-quality reads: consent conflicts and duplicates.

Both scan more than one page, so both are bounded (a maximum number of records scanned) and
say when they stopped early, rather than silently reporting a partial answer as complete.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from pydantic import BaseModel, Field

from connectors.model import Campaign, Page, Person, PersonQuery
from connectors.protocol import Connector
from governance.hygiene import clean_text
from governance.pii import mask_email
from tools.common import ConnectorName, Ref, connector, person_object, split_ref
from tools.names import TOOL_RISK
from tools.spec import StrictInput, ToolContext, ToolSpec

MAX_SCAN = 20_000
MAX_REPORTED = 500


async def _pages(
    fetch: Callable[[str | None], Awaitable[Page[Any]]], budget: list[int]
) -> AsyncIterator[Any]:
    cursor: str | None = None
    while budget[0] > 0:
        page = await fetch(cursor)
        for item in page.items:
            budget[0] -= 1
            yield item
        cursor = page.next_cursor
        if not cursor:
            return


class ConflictsIn(StrictInput):
    connector: ConnectorName
    campaign_ref: Ref | None = Field(
        None, description="limit to one campaign; default: every active campaign that sends email"
    )


class Conflict(BaseModel):
    person_ref: str
    consent_status: str
    reasons: list[str]
    found_in: list[str] = Field(description="send lists / campaign audiences containing them")


class ConflictsOut(BaseModel):
    conflicts: list[Conflict]
    total_conflicts: int
    by_status: dict[str, int]
    campaigns_checked: list[str]
    records_scanned: int
    complete: bool = Field(description="false when the scan stopped at its record limit")


async def _email_campaigns(client: Connector, only: str | None) -> list[Campaign]:
    if only:
        return [await client.get_campaign(only)]
    found: list[Campaign] = []
    budget = [10_000]
    async for c in _pages(lambda cur: client.list_campaigns(cursor=cur, limit=100), budget):
        if c.sends_email and c.active is not False:
            found.append(c)
    return found


def _members_of(client: Connector, ref: str) -> Callable[[str | None], Awaitable[Page[Any]]]:
    async def fetch(cursor: str | None) -> Page[Any]:
        return await client.list_members(ref, cursor=cursor, limit=300)

    return fetch


def _campaign_members_of(
    client: Connector, ref: str
) -> Callable[[str | None], Awaitable[Page[Any]]]:
    async def fetch(cursor: str | None) -> Page[Any]:
        return await client.campaign_members(ref, cursor=cursor, limit=300)

    return fetch


async def find_consent_conflicts(ctx: ToolContext, args: ConflictsIn) -> ConflictsOut:
    client = connector(ctx, args.connector)
    campaigns = await _email_campaigns(client, args.campaign_ref)
    hits: dict[str, Conflict] = {}
    budget = [MAX_SCAN]

    def note(person: Person, where: str) -> None:
        if person.consent.status == "subscribed":
            return
        hit = hits.setdefault(
            person.ref,
            Conflict(
                person_ref=person.ref,
                consent_status=person.consent.status,
                reasons=list(person.consent.suppression_reasons) or [person.consent.status],
                found_in=[],
            ),
        )
        if where not in hit.found_in:
            hit.found_in.append(where)

    for camp in campaigns:
        if camp.audience_list_ref:
            async for p in _pages(_members_of(client, camp.audience_list_ref), budget):
                note(p, camp.audience_list_ref)
        refs = [m.person_ref async for m in _pages(_campaign_members_of(client, camp.ref), budget)]
        for start in range(0, len(refs), 300):
            people = await client.get_people(refs[start : start + 300])
            for person in people.values():
                note(person, camp.ref)
    ordered = sorted(hits.values(), key=lambda c: c.person_ref)
    by_status: dict[str, int] = {}
    for c in ordered:
        by_status[c.consent_status] = by_status.get(c.consent_status, 0) + 1
    ctx.notes.summary = f"{len(ordered)} conflicts in {len(campaigns)} campaigns"
    return ConflictsOut(
        conflicts=ordered[:MAX_REPORTED],
        total_conflicts=len(ordered),
        by_status=by_status,
        campaigns_checked=[c.ref for c in campaigns],
        records_scanned=MAX_SCAN - budget[0],
        complete=budget[0] > 0,
    )


class DuplicatesIn(StrictInput):
    connector: ConnectorName
    object: str | None = None
    list_ref: Ref | None = Field(None, description="only look inside this list")


class DuplicateGroup(BaseModel):
    match: str = Field(description="'email' or 'name+company'")
    key: str = Field(description="the shared value, masked")
    people: list[str]


class DuplicatesOut(BaseModel):
    groups: list[DuplicateGroup]
    total_groups: int
    records_scanned: int
    complete: bool


def normalise(text: str | None) -> str:
    return " ".join(clean_text(text or "", 400).text.split()).casefold()


def _keys(person: Person) -> list[tuple[str, str]]:
    keys = []
    email = normalise(person.role("email"))
    if email:
        keys.append(("email", email))
    name = normalise(f"{person.role('first_name') or ''} {person.role('last_name') or ''}")
    company = normalise(person.role("company"))
    if name and company:
        keys.append(("name+company", f"{name} @ {company}"))
    return keys


def _mask_key(kind: str, key: str) -> str:
    if kind == "email":
        return mask_email(key)
    name, _, company = key.partition(" @ ")
    return " ".join(p[:1] + "***" for p in name.split()) + " @ " + company


async def find_duplicates(ctx: ToolContext, args: DuplicatesIn) -> DuplicatesOut:
    client = connector(ctx, args.connector)
    budget = [MAX_SCAN]
    if args.list_ref:
        split_ref(args.list_ref)
        source = _pages(_members_of(client, args.list_ref), budget)
    else:
        query = PersonQuery(object=person_object(args.connector, args.object))
        source = _pages(lambda cur: client.search_people(query, cursor=cur, limit=200), budget)
    groups: dict[tuple[str, str], list[str]] = {}
    async for person in source:
        for key in _keys(person):
            groups.setdefault(key, []).append(person.ref)
    dupes = [
        DuplicateGroup(match=kind, key=_mask_key(kind, key), people=sorted(refs))
        for (kind, key), refs in sorted(groups.items())
        if len(refs) > 1
    ]
    ctx.notes.summary = f"{len(dupes)} duplicate groups"
    return DuplicatesOut(
        groups=dupes[:MAX_REPORTED],
        total_groups=len(dupes),
        records_scanned=MAX_SCAN - budget[0],
        complete=budget[0] > 0,
    )


HYGIENE_TOOLS: tuple[ToolSpec[Any, Any], ...] = (
    ToolSpec(
        "find_consent_conflicts",
        "Find consent conflicts",
        "People who are opted out, suppressed or of unknown consent but sit in a send list, "
        "a campaign audience or a trigger campaign's audience. Use before any send.",
        ConflictsIn,
        ConflictsOut,
        find_consent_conflicts,
        TOOL_RISK["find_consent_conflicts"],
    ),
    ToolSpec(
        "find_duplicates",
        "Find duplicates",
        "Groups of people sharing a normalised email, or the same name and company "
        "(optionally inside one list). Keys are masked.",
        DuplicatesIn,
        DuplicatesOut,
        find_duplicates,
        TOOL_RISK["find_duplicates"],
    ),
)

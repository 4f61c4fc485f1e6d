"""Data-quality reads: consent conflicts and duplicates.

Both scan more than one page, so both are bounded (a maximum number of records scanned) and
say when they stopped early, rather than silently reporting a partial answer as complete.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from mopsgate.crm.connector import Connector
from mopsgate.crm.errors import NotSupportedByVendor
from mopsgate.crm.records import Campaign, CampaignMember, Page, Person, PersonQuery
from mopsgate.crm.refs import parse_ref
from mopsgate.governance.catalogue import Catalogue
from mopsgate.governance.consent_floor import ExpressConsent, express_consent, floor_findings
from mopsgate.governance.errors import NotPermitted
from mopsgate.governance.hygiene import clean_text
from mopsgate.governance.pii import mask_email
from mopsgate.governance.policy import FieldAccess, permitted_objects
from mopsgate.governance.risk import RiskClass
from mopsgate.governance.send_lists import SendLists, email_campaigns, from_campaigns
from mopsgate.tools.common import (
    ConnectorName,
    Cursor,
    Ref,
    campaign_ref,
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
from mopsgate.tools.shaping import withheld_status_field
from mopsgate.tools.snapshots import SNAPSHOT_MINUTES
from mopsgate.tools.spec import ConnectorNeed, Target, ToolContext, ToolInput, ToolSpec

STATUS_OF_BLOCK = {"consent_unknown": "unknown"}  # the floor's reason code -> consent status
HIDDEN_BY = "another record with the same email address, which you may not read, is not sendable"
MAX_SCAN = 20_000
MAX_REPORTED = 500
MAX_CAMPAIGNS = 200
MAX_LISTS = 2000  # lists checked where the vendor cannot name its send lists

CONFLICTS_DEFINITION = (
    "People whose consent is not 'subscribed' (opted out, suppressed, or no legal basis "
    "recorded) — on their own record, or on another record with the same email address — "
    "who are members of an active e-mail-sending campaign or sit in a list that "
    "feeds e-mail sends. Active: not ended or switched off. E-mail sending: as the vendor "
    "reports it (get_campaign; Marketo smart campaigns follow their program's type; "
    "Salesforce sends no e-mail itself, so there its active campaigns of Type Email or "
    "Webinar count, and a campaign's audience is its members). Lists that feed sends: the "
    "audience lists of those campaigns; where the vendor cannot name every such list "
    "(Salesforce, or a campaign whose audience is not one resolvable list) every list counts "
    "unless the manifest declares it feeds no send (lists_declared_not_send)."
)


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


class ConflictsIn(ToolInput):
    connector: ConnectorName
    campaign_ref: Ref | None = Field(
        None,
        description="check only this campaign (whatever its channel); default: every active "
        "campaign that sends e-mail",
    )

    def target(self) -> Target:
        return Target(self.connector).or_(Target.of(self.campaign_ref))


class Conflict(BaseModel):
    person_ref: str
    consent_status: str
    reasons: list[str]
    found_in: list[str] = Field(description="campaigns and audience lists containing them")


class ConflictsOut(BaseModel):
    conflicts: list[Conflict]
    total_conflicts: int
    by_status: dict[str, int]
    campaigns_checked: list[str]
    lists_checked: list[str]
    lists_declared_not_send: list[str] = Field(
        description="lists not checked because the manifest declares they feed no e-mail send "
        "(only where the vendor cannot name its send lists)"
    )
    unreadable: list[str] = Field(description="audiences the vendor would not let us read")
    records_scanned: int
    complete: bool = Field(description="false when the scan stopped at a limit or missed data")
    definition: str = CONFLICTS_DEFINITION


async def _send_campaigns(client: Connector, only: str | None) -> tuple[list[Campaign], bool]:
    """The campaigns to check, and whether every campaign was looked at."""
    if only:
        return [await client.get_campaign(only)], True
    return await email_campaigns(client, limit=MAX_CAMPAIGNS)


async def _unnamed_send_lists(
    client: Connector, lists: SendLists, scan: _Scan
) -> tuple[list[str], bool]:
    """Where the vendor cannot name every send list, check every list it has that may feed
    sends (all but the declared ones). Returns the declared lists skipped, and whether every
    list could be listed."""
    skipped: list[str] = []
    budget = [MAX_LISTS]
    try:
        page = client.capabilities.list_page
        lists_of = _pages(lambda cur: client.list_lists(cursor=cur, limit=page), budget)
        async for lst in lists_of:
            if lists.feeds_sends(lst.ref):
                await scan.audience(lst.ref)
            else:
                skipped.append(lst.ref)
    except NotSupportedByVendor:
        return skipped, False
    return skipped, budget[0] > 0


def _list_fetch(client: Connector, ref: str) -> Callable[[str | None], Awaitable[Page[Person]]]:
    async def fetch(cursor: str | None) -> Page[Person]:
        return await client.list_members(ref, cursor=cursor, limit=client.capabilities.member_page)

    return fetch


def _members_fetch(
    client: Connector, ref: str
) -> Callable[[str | None], Awaitable[Page[CampaignMember]]]:
    async def fetch(cursor: str | None) -> Page[CampaignMember]:
        return await client.campaign_members(
            ref, cursor=cursor, limit=client.capabilities.campaign_member_page
        )

    return fetch


class _Scan:
    def __init__(
        self, client: Connector, express: ExpressConsent, allowed: Callable[[Person], bool]
    ) -> None:
        self.client = client
        self.express = express
        self.allowed = allowed  # a member of an object the caller may not read is unsaid
        self.seen = 0
        self.hits: dict[str, Conflict] = {}
        self.budget = [MAX_SCAN]
        self.lists: list[str] = []
        self.unreadable: list[str] = []
        self.subscribed: dict[str, tuple[Person, list[str]]] = {}  # ref -> (person, where)

    def note(self, person: Person, where: str) -> None:
        if not self.allowed(person):
            return
        self.seen += 1
        state = person.consent
        if state.status == "subscribed":
            self.subscribed.setdefault(person.ref, (person, []))[1].append(where)
            return
        reasons = [state.status, *(clean_text(r, 200).text for r in state.suppression_reasons)]
        self._hit(person.ref, state.status, reasons, [where])

    def _hit(self, ref: str, status: str, reasons: list[str], where: list[str]) -> None:
        hit = self.hits.setdefault(
            ref, Conflict(person_ref=ref, consent_status=status, reasons=reasons, found_in=[])
        )
        hit.found_in.extend(w for w in dict.fromkeys(where) if w not in hit.found_in)

    async def by_person(self) -> None:
        """Subscribed records whose address another record holds opted out, suppressed or of
        unknown consent: the floor blocks them, so they are conflicts too (one batched lookup
        of every other record of their addresses)."""
        people = [person for person, _ in self.subscribed.values()]
        found = await floor_findings(self.client, people, self.express)
        for ref, block in found.items():
            status = STATUS_OF_BLOCK.get(block.code, block.code)
            # the record that blocks is named only where the caller may read its object
            reason = block.block[1] if block.by is None or self.allowed(block.by) else HIDDEN_BY
            self._hit(ref, status, [status, reason], self.subscribed[ref][1])

    async def audience(self, ref: str) -> None:
        if ref in self.lists or ref in self.unreadable:
            return
        try:
            async for person in _pages(_list_fetch(self.client, ref), self.budget):
                self.note(person, ref)
        except NotSupportedByVendor:
            self.unreadable.append(ref)
            return
        self.lists.append(ref)

    async def members(self, camp: Campaign) -> None:
        if camp.kind == "smart_campaign":
            return  # its members live on its program, checked as a campaign of its own
        fetch = _members_fetch(self.client, camp.ref)
        try:
            refs = [m.person_ref async for m in _pages(fetch, self.budget)]
        except NotSupportedByVendor:
            self.unreadable.append(camp.ref)
            return
        for start in range(0, len(refs), 300):
            people = await self.client.get_people(refs[start : start + 300])
            for person in people.values():
                self.note(person, camp.ref)


def _consent_readable(ctx: ToolContext, conn: str) -> None:
    """A conflict is a person whose consent status says they may not be emailed, so listing or
    counting conflicts reads that status, and so every field it is derived from (opt-out,
    suppression, legal basis) on each person object the caller may read: refused before any
    vendor call otherwise, as search_people's consent filter is."""
    cat = ctx.manifest.catalogue
    tool = "find_consent_conflicts"
    readable, _ = permitted_objects(
        ctx.manifest, ctx.principal, tool, conn, cat.person_objects[conn], use_case=ctx.use_case
    )
    for obj in readable:
        name = withheld_status_field(cat, conn, obj, read_access(ctx, conn, obj, tool))
        if name is not None:
            raise NotPermitted(
                f"find_consent_conflicts reads {conn} {obj} field {name!r} (consent rests "
                "on it), which you may not read.",
                hint="Ask someone who may read consent fields; my_permissions shows what "
                "you may read.",
            )


async def find_consent_conflicts(ctx: ToolContext, args: ConflictsIn) -> ConflictsOut:
    if args.campaign_ref:
        same_connector(args.connector, campaign_ref(ctx.manifest.catalogue, args.campaign_ref))
    _consent_readable(ctx, args.connector)
    client = connector(ctx, args.connector)
    campaigns, all_seen = await _send_campaigns(client, args.campaign_ref)
    scan = _Scan(
        client,
        express_consent(ctx.manifest, args.connector),
        ObjectRights(ctx, "find_consent_conflicts").allows,
    )
    for camp in campaigns:
        if camp.audience_list_ref and camp.audience_list_ref != camp.ref:
            await scan.audience(camp.audience_list_ref)
        await scan.members(camp)
    declared: list[str] = []
    lists = from_campaigns(client, campaigns, all_seen, ctx.manifest.not_send_lists(args.connector))
    if not args.campaign_ref and not lists.complete:
        declared, listed = await _unnamed_send_lists(client, lists, scan)
        all_seen = all_seen and listed
    await scan.by_person()
    ordered = sorted(scan.hits.values(), key=lambda c: c.person_ref)
    by_status: dict[str, int] = {}
    for c in ordered:
        by_status[c.consent_status] = by_status.get(c.consent_status, 0) + 1
    ctx.notes.summary = f"{len(ordered)} conflicts in {len(campaigns)} campaigns"
    return ConflictsOut(
        conflicts=ordered[:MAX_REPORTED],
        total_conflicts=len(ordered),
        by_status=by_status,
        campaigns_checked=[c.ref for c in campaigns],
        lists_checked=scan.lists,
        lists_declared_not_send=declared,
        unreadable=scan.unreadable,
        records_scanned=scan.seen,
        complete=all_seen and scan.budget[0] > 0 and not scan.unreadable,
    )


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
        return _pages(_list_fetch(client, args.list_ref), budget)
    every = person_objects(ctx.manifest.catalogue, args.connector, args.object)
    objects = readable_objects(ctx, args.connector, every, "find_duplicates")
    query = PersonQuery(object=objects[0] if len(objects) < len(every) or args.object else None)
    page = client.capabilities.search_page
    return _pages(lambda cur: client.search_people(query, cursor=cur, limit=page), budget)


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


HYGIENE_TOOLS = (
    ToolSpec(
        "find_consent_conflicts",
        "Find consent conflicts",
        "Use before any send. " + CONFLICTS_DEFINITION + " Returns each person with the "
        "campaigns and lists they were found in; 'complete' is false if the scan stopped early "
        "or an audience could not be read.",
        ConflictsIn,
        ConflictsOut,
        find_consent_conflicts,
        RiskClass.READ,
        ConnectorNeed.ARGUMENT,
    ),
    ToolSpec(
        "find_duplicates",
        "Find duplicates",
        "Groups of people sharing a normalised email, or the same name and company "
        "(optionally inside one list; Salesforce compares Leads and Contacts together), each "
        "with a confidence (email: high; name + company alone: low, often different people) "
        "and a suggested survivor for propose_merge_people. Paged by group: pass next_cursor "
        "(later pages show the records as read for the first, at most "
        f"{SNAPSHOT_MINUTES:g} minutes before). "
        "Keys are masked and built only from fields you may read. Marketo cannot list every "
        "lead: there pass list_ref.",
        DuplicatesIn,
        DuplicatesOut,
        find_duplicates,
        RiskClass.READ,
        ConnectorNeed.ARGUMENT,
    ),
)

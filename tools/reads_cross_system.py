"""One person across Marketo, HubSpot and Salesforce: resolve them, and find where the systems
disagree about people (consent, lifecycle stage, owner).

Both tools match on unmasked values on the server (``person_matching``) and show what they
found with the caller's field rights and masking, per connector and object. A value the caller
may not read is never compared: saying that two hidden values differ would reveal them; nor
matched on: finding a record by an address the caller may not read would reveal it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from mopsgate.crm.connector import Connector
from mopsgate.crm.errors import NotSupportedByVendor
from mopsgate.crm.records import Owner, Page, Person, PersonQuery
from mopsgate.crm.refs import parse_ref
from mopsgate.governance.consent_floor import normalise_email
from mopsgate.governance.errors import InvalidInput, NotPermitted, NotSupported
from mopsgate.governance.hygiene import clean_text
from mopsgate.governance.pii import mask_email, mask_value
from mopsgate.governance.policy import FieldAccess
from mopsgate.governance.risk import RiskClass
from mopsgate.tools.common import (
    ConnectorName,
    Cursor,
    Limit,
    Ref,
    connector,
    person_ref,
    read_access,
    scanned_once,
)
from mopsgate.tools.paging import Cursor as PageCursor
from mopsgate.tools.paging import decode_cursor, encode_cursor
from mopsgate.tools.person_matching import (
    HOW_MATCHED,
    STRENGTH,
    Found,
    MatchedBy,
    MatchOmission,
    MatchRights,
    ObjectRights,
    allowed_connectors,
    by_email,
    by_name_and_company,
    object_allowed,
    profile_of,
)
from mopsgate.tools.shaping import PersonOut, consent_out, shape_person
from mopsgate.tools.snapshots import SNAPSHOT_MINUTES
from mopsgate.tools.spec import ConnectorNeed, Target, ToolContext, ToolInput, ToolSpec

MAX_PEOPLE = 50
MAX_SCAN = 20_000  # records read per connector by find_cross_system_drift
# common-model field -> the role that holds it (consent is the verdict, not a field)
COMPARED: dict[str, str | None] = {
    "consent": None,
    "lifecycle_stage": "lifecycle_stage",
    "lead_status": "lead_status",
    "title": "title",
    "owner": "owner_id",
}
Email = Annotated[str, Field(min_length=3, max_length=254)]
ShownValue = str | int | float | bool | None
ORDER = ("opted_out", "suppressed", "unknown", "subscribed")


class OwnerBook:
    """Owners per connector, read once per call: an owner is compared across systems by
    their email (the same employee has another id in each system)."""

    def __init__(self) -> None:
        self.owners: dict[str, dict[str, Owner]] = {}

    async def load(self, client: Connector) -> dict[str, Owner]:
        if client.name not in self.owners:
            self.owners[client.name] = {o.ref: o for o in await client.list_owners()}
        return self.owners[client.name]

    def shown(self, connector: str, ref: str | None) -> tuple[str | None, str | None]:
        """(what is shown, what is compared) for an owner reference."""
        if ref is None:
            return None, None
        owner = self.owners.get(connector, {}).get(ref)
        if owner is None:
            return ref, ref
        name = clean_text(owner.name, 200).text + ("" if owner.active else " (inactive)")
        return name, (owner.email or owner.name).strip().casefold()


def _compare_key(value: object) -> str | None:
    if value is None or value == "":
        return None
    return " ".join(str(value).split()).casefold()


# --- resolve_person --------------------------------------------------------------------------


class ResolveIn(ToolInput):
    refs: list[Ref] = Field(
        default_factory=list,
        max_length=MAX_PEOPLE,
        description="people to resolve by record reference (any connector)",
    )
    emails: list[Email] = Field(
        default_factory=list,
        max_length=MAX_PEOPLE,
        description="people to resolve by email address (matched normalised: case, spaces, "
        "IDNA domain)",
    )
    connectors: list[ConnectorName] | None = Field(
        None, description="where to look; default every connector you may read"
    )

    @model_validator(mode="after")
    def _some(self) -> ResolveIn:
        if not self.refs and not self.emails:
            raise ValueError("give refs or emails (or both)")
        if len(self.refs) + len(self.emails) > MAX_PEOPLE:
            raise ValueError(f"at most {MAX_PEOPLE} people per call; split the request")
        return self

    def target(self) -> Target:
        return Target.NONE  # every connector, each decided on its own inside the tool


class MatchedRecord(BaseModel):
    connector: str
    matched_by: MatchedBy
    strength: Literal["given", "strong", "weak"] = Field(
        description="given: the record you named; strong: same normalised email; weak: only "
        "the same name and company (may be another person)"
    )
    person: PersonOut


class FieldComparison(BaseModel):
    field: str = Field(description="consent | lifecycle_stage | lead_status | title | owner")
    values: dict[str, ShownValue] = Field(
        description="record ref -> value as you may see it (masked where PII)"
    )
    differs: bool = Field(description="true when the records disagree (compared unmasked)")
    not_compared: list[str] = Field(
        default_factory=list, description="records whose value you may not read"
    )


class ResolvedPerson(BaseModel):
    asked: str = Field(description="the reference you gave, or your email masked")
    email: str | None = Field(description="the normalised email the match used, masked")
    records: list[MatchedRecord]
    comparison: list[FieldComparison]
    differences: list[str] = Field(description="the fields that differ between records")
    found_on: list[str]
    not_found_on: list[str]


class ResolveOut(BaseModel):
    people: list[ResolvedPerson]
    connectors_checked: list[str]
    not_checked: dict[str, str] = Field(
        description="connectors left out (you may not use this tool there), and why"
    )
    not_matched_on: list[MatchOmission] = Field(
        default_factory=list,
        description="ways of matching not tried on a connector's object because they compare "
        "fields you may not read",
    )
    how_matched: str = HOW_MATCHED


def _shown(person: Person, access: FieldAccess, name: str | None, value: object) -> ShownValue:
    if value is None:
        return None
    text: ShownValue = value if isinstance(value, (int, float, bool)) else str(value)
    if isinstance(text, str):
        text = clean_text(text, 500).text
    if name is not None and access.must_mask(name):
        return str(mask_value(name, text, None))
    return text


def compare(
    ctx: ToolContext,
    clients: dict[str, Connector],
    owners: OwnerBook,
    people: Sequence[Person],
    tool: str,
) -> list[FieldComparison]:
    """The common model, field by field, over one person's records."""
    cat = ctx.manifest.catalogue
    out: list[FieldComparison] = []
    for name, role in COMPARED.items():
        values: dict[str, ShownValue] = {}
        keys: set[str | None] = set()
        hidden: list[str] = []
        for person in people:
            conn = parse_ref(person.ref).connector
            client = clients[conn]
            access = read_access(ctx, conn, person.object, tool)
            if role is None:  # the status, only where every field it rests on is readable
                status = consent_out(person.consent, access).status
                if status == "withheld":
                    hidden.append(person.ref)
                    continue
                values[person.ref] = status
                keys.add(status)
                continue
            vendor_field = cat.field_for(conn, person.object, role)
            if vendor_field is None or not access.can_read(vendor_field):
                hidden.append(person.ref)
                continue
            common = client.common_value(person, role)
            if role == "owner_id":
                shown, key = owners.shown(conn, None if common is None else str(common))
                values[person.ref] = shown
                keys.add(key)
                continue
            values[person.ref] = _shown(person, access, vendor_field, common)
            keys.add(_compare_key(common))
        out.append(
            FieldComparison(field=name, values=values, differs=len(keys) > 1, not_compared=hidden)
        )
    return out


async def _seeds(
    ctx: ToolContext, args: ResolveIn, clients: dict[str, Connector], rights: MatchRights
) -> list[tuple[str, str | None, Person | None]]:
    """(asked, normalised email, the named record) per person asked about, in order. A named
    record's address is matched on only where the caller may read it."""
    cat = ctx.manifest.catalogue
    by_conn: dict[str, list[str]] = {}
    for ref in args.refs:
        conn, _ = person_ref(cat, ref)
        if conn not in clients:
            raise NotPermitted(
                f"you may not use resolve_person on {conn}, where {ref} is.",
                hint="Call my_permissions to see where you may read, or pass an email.",
            )
        by_conn.setdefault(conn, []).append(ref)
    named: dict[str, Person] = {}
    for conn, refs in by_conn.items():
        named.update(await clients[conn].get_people(refs))
    out: list[tuple[str, str | None, Person | None]] = []
    for ref in args.refs:
        person = named.get(ref)
        if person is None:
            raise InvalidInput(
                f"there is no record {ref}.", hint="Use a reference a read returned."
            )
        if not object_allowed(ctx, "resolve_person", person):
            raise NotPermitted(
                f"you may not read {person.object} records on {parse_ref(ref).connector}.",
                hint="Call my_permissions to see what you may read.",
            )
        raw = clients[parse_ref(ref).connector].role_value(person, "email")
        key = normalise_email(str(raw or "")) if rights.may(person, "email") else None
        out.append((ref, key, person))
    bad = [e for e in args.emails if normalise_email(e) is None]
    if bad:
        raise InvalidInput(
            f"{len(bad)} email address(es) cannot be normalised (malformed, or not plain "
            "ASCII before the @), so nothing can match them.",
            hint="Pass plain addresses such as jane.doe@example.com.",
        )
    out += [(mask_email(e.strip().lower()), normalise_email(e), None) for e in args.emails]
    return out


async def resolve_person(ctx: ToolContext, args: ResolveIn) -> ResolveOut:
    names, skipped = allowed_connectors(ctx, "resolve_person", args.connectors)
    if not names:
        raise NotPermitted(
            "you may not use resolve_person on any of the connectors asked for.",
            hint="Call my_permissions to see where you may read.",
        )
    clients = {n: connector(ctx, n) for n in names}
    rights = MatchRights(ctx, "resolve_person", names)
    seeds = await _seeds(ctx, args, clients, rights)
    keys = sorted({key for _, key, _ in seeds if key})
    emails = {
        n: await by_email(c, keys) if rights.on(n, "email") else {} for n, c in clients.items()
    }
    owners = OwnerBook()
    for client in clients.values():
        await owners.load(client)
    people: list[ResolvedPerson] = []
    for asked, key, named in seeds:
        found = Found(key)
        if named is not None:
            found.records.append((named, "reference"))
        for conn in names:
            for person in emails[conn].get(key or "", []):
                if (
                    person.ref not in found.refs()
                    and object_allowed(ctx, "resolve_person", person)
                    and rights.may(person, "email")
                ):
                    found.records.append((person, "email"))
        profile = next(
            (
                profile_of(clients[parse_ref(p.ref).connector], p)
                for p, _ in found.records
                if rights.may(p, "name+company")
            ),
            None,
        )
        for conn in names:
            if profile is None or found.on(conn) or not rights.on(conn, "name+company"):
                continue
            for person in await by_name_and_company(clients[conn], profile):
                if object_allowed(ctx, "resolve_person", person) and rights.may(
                    person, "name+company"
                ):
                    found.records.append((person, "name+company"))
        people.append(_resolved(ctx, clients, owners, asked, found, names))
    ctx.notes.connector = "+".join(names)  # the audit row names every connector read
    ctx.notes.summary = f"resolved {len(people)} people on {', '.join(names)}"
    return ResolveOut(
        people=people,
        connectors_checked=names,
        not_checked=skipped,
        not_matched_on=rights.omitted,
    )


def _resolved(
    ctx: ToolContext,
    clients: dict[str, Connector],
    owners: OwnerBook,
    asked: str,
    found: Found,
    names: list[str],
) -> ResolvedPerson:
    records = []
    for person, how in found.records:
        conn = parse_ref(person.ref).connector
        access = read_access(ctx, conn, person.object, "resolve_person")
        records.append(
            MatchedRecord(
                connector=conn,
                matched_by=how,
                strength=STRENGTH[how],
                person=shape_person(person, access),
            )
        )
    comparison = compare(ctx, clients, owners, [p for p, _ in found.records], "resolve_person")
    return ResolvedPerson(
        asked=asked,
        email=mask_email(found.key) if found.key else None,
        records=records,
        comparison=comparison,
        differences=[c.field for c in comparison if c.differs],
        found_on=[n for n in names if found.on(n)],
        not_found_on=[n for n in names if not found.on(n)],
    )


# --- find_cross_system_drift -----------------------------------------------------------------

DriftKind = Literal["consent", "lifecycle_stage", "owner"]
DRIFT_DEFINITION = (
    "A person is everyone's records with one normalised email. They drift when connectors that "
    "hold them disagree: consent (a connector's verdict is the worst status among its records "
    "of the address: opted_out, suppressed, unknown, subscribed), lifecycle stage (in the "
    "common vocabulary: HubSpot's 'marketingqualifiedlead' is 'mql'), or owner (compared by "
    "the owner's email, since each system has its own owner ids). Consent drift comes first, "
    "people mailable in one system but not in another first of all."
)


class DriftIn(ToolInput):
    kinds: list[DriftKind] | None = Field(
        None, description="only these kinds of drift; default all three"
    )
    connectors: list[ConnectorName] | None = Field(
        None, min_length=2, description="compare these connectors; default every one you may read"
    )
    limit: Limit = 25
    cursor: Cursor = None

    def target(self) -> Target:
        return Target.NONE


class ConnectorView(BaseModel):
    refs: list[str]
    consent: str
    lifecycle_stage: ShownValue = None
    owner: ShownValue = None


class DriftItem(BaseModel):
    email: str = Field(description="the person's normalised email, masked")
    kinds: list[DriftKind]
    mailable_somewhere_not_elsewhere: bool = Field(
        description="subscribed on one connector while opted out, suppressed or of unknown "
        "consent on another: the consent drift to fix first"
    )
    by_connector: dict[str, ConnectorView]


class DriftOut(BaseModel):
    items: list[DriftItem]
    next_cursor: str | None = Field(description="pass back for the next page; null at end")
    total: int
    counts: dict[str, int] = Field(
        description="people per kind of drift (a person may count under several)"
    )
    people_compared: int = Field(description="people held by at least two of the connectors")
    records_scanned: dict[str, int]
    connectors_checked: list[str]
    not_checked: dict[str, str]
    complete: bool = Field(description="false when a connector's scan stopped at its limit")
    not_matched_on: list[MatchOmission] = Field(
        default_factory=list,
        description="connector objects left out of the comparison because you may not read "
        "the email it joins on",
    )
    definition: str = DRIFT_DEFINITION


async def _scan(client: Connector) -> tuple[list[Person], bool] | None:
    """Every person record of a connector that can list them (None where the vendor can only
    look people up by a key, as Marketo: those are looked up by the others' emails)."""
    out: list[Person] = []
    cursor: str | None = None
    try:
        while len(out) < MAX_SCAN:
            page: Page[Person] = await client.search_people(
                PersonQuery(), cursor=cursor, limit=client.capabilities.search_page
            )
            out += page.items
            cursor = page.next_cursor
            if not cursor:
                return out, True
    except NotSupportedByVendor:
        return None
    return out, False


def _worst(people: Sequence[Person]) -> str:
    return min((p.consent.status for p in people), key=ORDER.index)


class _Views:
    """Per connector, the value a person's records hold for each kind (None: not comparable)."""

    def __init__(self, ctx: ToolContext, clients: dict[str, Connector], owners: OwnerBook) -> None:
        self.ctx, self.clients, self.owners = ctx, clients, owners
        self.cat = ctx.manifest.catalogue
        self._access: dict[tuple[str, str], FieldAccess] = {}

    def _read_access(self, conn: str, obj: str) -> FieldAccess:
        """Decided once per connector object: every person of the scan asks."""
        access = self._access.get((conn, obj))
        if access is None:
            access = read_access(self.ctx, conn, obj, "find_cross_system_drift")
            self._access[(conn, obj)] = access
        return access

    def view(self, conn: str, people: list[Person]) -> tuple[ConnectorView, dict[str, str | None]]:
        cat = self.cat
        client = self.clients[conn]
        # A status read off a field the caller may not read would reveal that field: such
        # records make the connector's consent not comparable (and shown as withheld).
        consent_readable = all(
            consent_out(p.consent, self._read_access(conn, p.object)).status != "withheld"
            for p in people
        )
        keys: dict[str, str | None] = {"consent": _worst(people) if consent_readable else None}
        shown: dict[str, ShownValue] = {}
        for kind, role in (("lifecycle_stage", "lifecycle_stage"), ("owner", "owner_id")):
            seen: dict[str | None, ShownValue] = {}
            readable = True
            for person in people:
                name = cat.field_for(conn, person.object, role)
                access = self._read_access(conn, person.object)
                if name is None or not access.can_read(name):
                    readable = False
                    break
                common = client.common_value(person, role)
                if role == "owner_id":
                    value, key = self.owners.shown(conn, None if common is None else str(common))
                    seen[key] = value
                else:
                    seen[_compare_key(common)] = _shown(person, access, name, common)
            if readable:
                keys[kind] = "|".join(sorted(str(k) for k in seen))
                shown[kind] = " | ".join(sorted({str(v) for v in seen.values()}))
            else:
                keys[kind] = None
        view = ConnectorView(
            refs=sorted(p.ref for p in people),
            consent=keys["consent"] or "withheld",
            lifecycle_stage=shown.get("lifecycle_stage"),
            owner=shown.get("owner"),
        )
        return view, keys


@dataclass(frozen=True)
class _Drift:
    """Everything one drift query found, before paging (kept for its later pages)."""

    items: list[DriftItem]
    compared: int
    scanned: dict[str, int]
    complete: bool
    not_matched_on: list[MatchOmission]


async def _drift(ctx: ToolContext, names: list[str], kinds: list[DriftKind]) -> _Drift:
    """Read every connector and compare everyone found on two or more of them."""
    tool = "find_cross_system_drift"
    clients = {n: connector(ctx, n) for n in names}
    rights = MatchRights(ctx, tool, names)
    readable_object = ObjectRights(ctx, tool).allows
    owners = OwnerBook()
    held: dict[str, dict[str, list[Person]]] = {n: {} for n in names}  # conn -> key -> records
    scanned: dict[str, int] = {}
    complete = True
    lookup: list[str] = []
    for name, client in clients.items():
        await owners.load(client)
        got = await _scan(client)
        if got is None:
            lookup.append(name)
            continue
        records, whole = got
        complete = complete and whole
        readable = [p for p in records if readable_object(p)]
        scanned[name] = len(readable)  # records of objects the caller may not read are unsaid
        for person in readable:
            key = normalise_email(str(client.role_value(person, "email") or ""))
            if key and rights.may(person, "email"):
                held[name].setdefault(key, []).append(person)
    if len(lookup) == len(names):
        raise NotSupported(
            "none of these connectors can list every person, so there is nothing to start "
            "the comparison from.",
            hint="Include HubSpot or Salesforce.",
        )
    everyone = sorted({k for n in names for k in held[n]})
    for name in lookup:
        found = await by_email(clients[name], everyone) if rights.on(name, "email") else {}
        held[name] = {
            k: [p for p in v if readable_object(p) and rights.may(p, "email")]
            for k, v in found.items()
        }
        scanned[name] = sum(len(v) for v in held[name].values())
    views = _Views(ctx, clients, owners)
    items: list[DriftItem] = []
    compared = 0
    for key in everyone:
        where = [n for n in names if held[n].get(key)]
        if len(where) < 2:
            continue
        compared += 1
        shown: dict[str, ConnectorView] = {}
        values: dict[str, dict[str, str | None]] = {}
        for n in where:
            shown[n], values[n] = views.view(n, held[n][key])
        drifted: list[DriftKind] = [
            k for k in kinds if len({values[n][k] for n in where if values[n][k] is not None}) > 1
        ]
        if not drifted:
            continue
        statuses = {values[n]["consent"] for n in where}
        mailable = "consent" in drifted and "subscribed" in statuses
        items.append(
            DriftItem(
                email=mask_email(key),
                kinds=drifted,
                mailable_somewhere_not_elsewhere=mailable,
                by_connector=shown,
            )
        )
    items.sort(key=lambda i: (not i.mailable_somewhere_not_elsewhere, "consent" not in i.kinds))
    omitted = [o for o in rights.omitted if o.match == "email"]
    return _Drift(items, compared, scanned, complete, omitted)


async def find_cross_system_drift(ctx: ToolContext, args: DriftIn) -> DriftOut:
    tool = "find_cross_system_drift"
    names, skipped = allowed_connectors(ctx, tool, args.connectors)
    if len(names) < 2:
        raise NotPermitted(
            "comparing systems needs at least two connectors you may read; you may use "
            f"{tool} on {', '.join(names) or 'none'} of those asked for.",
            hint="Call my_permissions to see where you may read.",
        )
    kinds: list[DriftKind] = list(args.kinds or ("consent", "lifecycle_stage", "owner"))
    query = {"tool": tool, "connectors": names, "kinds": kinds}
    start = decode_cursor(args.cursor, query).skip
    found = await scanned_once(ctx, _Drift, query, args.cursor, lambda: _drift(ctx, names, kinds))
    items = found.items
    counts = {k: sum(k in i.kinds for i in items) for k in kinds}
    page = items[start : start + args.limit]
    more = start + len(page) < len(items)
    nxt = encode_cursor(PageCursor(None, start + len(page)), query) if more else None
    ctx.notes.connector = "+".join(names)  # the audit row names every connector read
    ctx.notes.summary = (
        f"{len(items)} people drift ("
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + f") of {found.compared} compared"
    )
    return DriftOut(
        items=page,
        next_cursor=nxt,
        total=len(items),
        counts=counts,
        people_compared=found.compared,
        records_scanned=found.scanned,
        connectors_checked=names,
        not_checked=skipped,
        complete=found.complete,
        not_matched_on=found.not_matched_on,
    )


CROSS_SYSTEM_TOOLS = (
    ToolSpec(
        "resolve_person",
        "Resolve a person across systems",
        "Use when a request is about one person (or a few) in more than one system — 'is "
        "she opted out everywhere?', 'who owns him in Salesforce and HubSpot?'. From record "
        "references or email addresses (up to 50 per call), returns each person's records on "
        "every connector you may read, how each was matched (email: strong; name + company: "
        "weak, possibly another person), and a field-by-field comparison of consent, "
        "lifecycle stage, lead status, title and owner with differences flagged. Matching "
        "runs on unmasked values on the server; values are shown masked per your rights. For "
        "many people at once, use find_cross_system_drift.",
        ResolveIn,
        ResolveOut,
        resolve_person,
        RiskClass.READ,
        ConnectorNeed.ARGUMENT,
    ),
    ToolSpec(
        "find_cross_system_drift",
        "Find cross-system drift",
        "Use for a MAP-vs-CRM discrepancy audit: everyone whose consent, lifecycle stage or "
        "owner differs between connectors, consent drift first (mailable in one system, opted "
        "out in another). Paged (pass next_cursor back; later pages show the systems as read for "
        f"the first, at most {SNAPSHOT_MINUTES:g} minutes before), with counts per kind. "
        + DRIFT_DEFINITION
        + " To fix an opt-out everywhere, use propose_opt_out_everywhere.",
        DriftIn,
        DriftOut,
        find_cross_system_drift,
        RiskClass.READ,
        ConnectorNeed.ARGUMENT,
    ),
)

"""resolve_person: one person (or a few) across Marketo, HubSpot and Salesforce, matched on
unmasked values on the server (``person_matching``), shown with the caller's field rights and
masking, and compared field by field. Nothing is matched on an address the caller may not
read: finding a record by it would reveal it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from mopsgate.crm.connector import Connector
from mopsgate.crm.records import Person
from mopsgate.crm.refs import parse_ref
from mopsgate.governance.consent_floor import normalise_email
from mopsgate.governance.errors import InvalidInput, NotPermitted
from mopsgate.governance.pii import mask_email
from mopsgate.tools.common import (
    ConnectorName,
    Ref,
    connector,
    person_ref,
    read_access,
)
from mopsgate.tools.cross_system_common import (
    COMPARED,
    OwnerBook,
    ShownValue,
    compare_key,
    shown_value,
)
from mopsgate.tools.person_matching import (
    HOW_MATCHED,
    STRENGTH,
    Found,
    MatchedBy,
    MatchOmission,
    MatchRights,
    allowed_connectors,
    by_email,
    by_name_and_company,
    object_allowed,
    profile_of,
)
from mopsgate.tools.shaping import PersonOut, consent_out, shape_person
from mopsgate.tools.spec import Target, ToolContext, ToolInput

MAX_PEOPLE = 50
Email = Annotated[str, Field(min_length=3, max_length=254)]


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
            values[person.ref] = shown_value(person, access, vendor_field, common)
            keys.add(compare_key(common))
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

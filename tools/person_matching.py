"""Which records on which connectors are one person: matched on the server, on unmasked values.

The assistant sees emails masked, so it cannot join records across systems itself; this does
it where the values are whole. A normalised email (the compliance floor's own normalisation:
trimmed, lower case, IDNA domain) is a strong match: it is what a send goes to and how every
vendor keys a person. First name + last name + company is a weak one — in real data (and in
the seed) most such pairs are two different people — so it is only tried on a connector where
the email found nothing, and it is always labelled weak. Writes never act on weak matches.

Each connector is read only where the caller may use the tool (per connector and object), so
a connector the manifest closes is reported as not checked rather than silently missing. A
match only runs on fields the caller may read, on both sides: finding a record by an address,
name or company the caller may not read would tell them that value. Where a mode cannot run
(on a connector and object) is decided before anything is read, from the manifest alone, and
reported (``MatchOmission``), so what is left out says nothing about which records exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from mopsgate.crm.connector import Connector
from mopsgate.crm.errors import NotSupportedByVendor
from mopsgate.crm.records import Person, PersonQuery
from mopsgate.crm.refs import parse_ref
from mopsgate.governance.consent_floor import lookup_forms, normalise_email
from mopsgate.governance.hygiene import clean_text
from mopsgate.governance.policy import permitted_objects
from mopsgate.tools.common import read_access
from mopsgate.tools.spec import ToolContext

MatchedBy = Literal["reference", "email", "name+company"]
STRENGTH: dict[str, Literal["given", "strong", "weak"]] = {
    "reference": "given",
    "email": "strong",
    "name+company": "weak",
}
HOW_MATCHED = (
    "Records are matched on the server on unmasked values. 'email' (strong): the same "
    "normalised address (trimmed, lower case, IDNA domain) on that connector. 'name+company' "
    "(weak): no record of the address on that connector, but one with the same first name, "
    "last name and company — often a different person; check before acting on it. Proposals "
    "never use weak matches. A match only compares fields you may read, on both records: "
    "not_matched_on says where a mode was not tried and which fields it would have read."
)
# the field roles each way of matching compares
MATCH_ROLES: dict[str, tuple[str, ...]] = {
    "email": ("email",),
    "name+company": ("first_name", "last_name", "company"),
}


class MatchOmission(BaseModel):
    """A way of matching that was not tried on one connector's object, and why."""

    connector: str
    object: str
    match: Literal["email", "name+company"]
    fields: list[str] = Field(description="the fields it compares that you may not read")
    reason: str


class MatchRights:
    """Which ways of matching the caller may use on each connector's person objects, decided
    from the manifest before any record is read (so a gap reveals nothing about the data)."""

    def __init__(self, ctx: ToolContext, tool: str, connectors: Sequence[str]) -> None:
        self.omitted: list[MatchOmission] = []
        self._blocked: set[tuple[str, str, str]] = set()
        self._objects: dict[str, tuple[str, ...]] = {}
        cat = ctx.manifest.catalogue
        for conn in connectors:
            objects = cat.person_objects.get(conn, ())
            allowed, _ = permitted_objects(
                ctx.manifest, ctx.principal, tool, conn, objects, use_case=ctx.use_case
            )
            self._objects[conn] = allowed
            for obj in allowed:
                access = read_access(ctx, conn, obj, tool)
                for how, roles in MATCH_ROLES.items():
                    names = [cat.field_for(conn, obj, role) for role in roles]
                    hidden = [n for n in names if n is not None and not access.can_read(n)]
                    if not hidden:
                        continue
                    self._blocked.add((conn, obj, how))
                    reasons = {access.denied.get(n, "not in your readable fields") for n in hidden}
                    self.omitted.append(
                        MatchOmission(
                            connector=conn,
                            object=obj,
                            match="email" if how == "email" else "name+company",
                            fields=hidden,
                            reason="; ".join(sorted(reasons))
                            + ". Ask the manifest owner to let you read them, or name the "
                            "records by reference.",
                        )
                    )

    def may(self, person: Person, how: str) -> bool:
        """Whether ``person`` may be matched (or matched from) by ``how``."""
        return (parse_ref(person.ref).connector, person.object, how) not in self._blocked

    def on(self, connector: str, how: str) -> bool:
        """Whether ``how`` may run on at least one person object of ``connector``."""
        objects = self._objects.get(connector, ())
        return any((connector, obj, how) not in self._blocked for obj in objects)


@dataclass
class Found:
    """One person's records across connectors, keyed by their normalised email."""

    key: str | None  # normalised email, None when the person has none usable
    records: list[tuple[Person, MatchedBy]] = field(default_factory=list)

    def refs(self) -> set[str]:
        return {p.ref for p, _ in self.records}

    def on(self, connector: str) -> list[Person]:
        return [p for p, _ in self.records if parse_ref(p.ref).connector == connector]


def words(text: object) -> str:
    """A name or company compared the way people read it: cleaned, spaces folded, any case."""
    return " ".join(clean_text(str(text or ""), 400).text.split()).casefold()


def allowed_connectors(
    ctx: ToolContext, tool: str, wanted: Sequence[str] | None
) -> tuple[list[str], dict[str, str]]:
    """The connectors (of ``wanted``, default every one) where the manifest lets the caller use
    ``tool`` on some person object; the others with the reason they are left out."""
    cat = ctx.manifest.catalogue
    allowed: list[str] = []
    skipped: dict[str, str] = {}
    for name in wanted or list(cat.person_objects):
        objects = cat.person_objects.get(name, ())
        permitted, refusal = permitted_objects(
            ctx.manifest, ctx.principal, tool, name, objects, use_case=ctx.use_case
        )
        if permitted:
            allowed.append(name)
        else:
            skipped[name] = refusal.reason if refusal else "no person objects"
    return allowed, skipped


def object_allowed(ctx: ToolContext, tool: str, person: Person) -> bool:
    conn = parse_ref(person.ref).connector
    permitted, _ = permitted_objects(
        ctx.manifest, ctx.principal, tool, conn, (person.object,), use_case=ctx.use_case
    )
    return bool(permitted)


class ObjectRights:
    """``object_allowed`` for the many records one call reads: the answer depends only on the
    record's connector and object, so it is decided once for each."""

    def __init__(self, ctx: ToolContext, tool: str) -> None:
        self._ctx, self._tool = ctx, tool
        self._known: dict[tuple[str, str], bool] = {}

    def allows(self, person: Person) -> bool:
        key = (parse_ref(person.ref).connector, person.object)
        known = self._known.get(key)
        if known is None:
            known = self._known[key] = object_allowed(self._ctx, self._tool, person)
        return known


async def by_email(client: Connector, keys: Sequence[str]) -> dict[str, list[Person]]:
    """Every record of each normalised address on this connector (one batched lookup)."""
    forms = sorted({form for key in keys for form in lookup_forms(key)})
    out: dict[str, list[Person]] = {}
    if not forms:
        return out
    wanted = set(keys)
    for person in await client.people_by_email(forms):
        key = normalise_email(str(client.role_value(person, "email") or ""))
        if key is not None and key in wanted:
            out.setdefault(key, []).append(person)
    return out


async def by_name_and_company(client: Connector, profile: tuple[str, str, str]) -> list[Person]:
    """Records with exactly this first name, last name and company (a weak match)."""
    first, last, company = profile
    if not (first and last and company):
        return []
    query = PersonQuery(name=last, company=company)
    try:
        page = await client.search_people(query, limit=client.capabilities.search_page)
    except NotSupportedByVendor:
        return []
    return [
        p
        for p in page.items
        if (
            words(client.role_value(p, "first_name")),
            words(client.role_value(p, "last_name")),
            words(client.role_value(p, "company")),
        )
        == profile
    ]


def profile_of(client: Connector, person: Person) -> tuple[str, str, str]:
    return (
        words(client.role_value(person, "first_name")),
        words(client.role_value(person, "last_name")),
        words(client.role_value(person, "company")),
    )

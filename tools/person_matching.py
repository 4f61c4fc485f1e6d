"""Which records on which connectors are one person: matched on the server, on unmasked values.

The assistant sees emails masked, so it cannot join records across systems itself; this does
it where the values are whole. A normalised email (the compliance floor's own normalisation:
trimmed, lower case, IDNA domain) is a strong match: it is what a send goes to and how every
vendor keys a person. First name + last name + company is a weak one — in real data (and in
the seed) most such pairs are two different people — so it is only tried on a connector where
the email found nothing, and it is always labelled weak. Writes never act on weak matches.

Each connector is read only where the caller may use the tool (per connector and object), so
a connector the manifest closes is reported as not checked rather than silently missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from mopsgate.crm.connector import Connector
from mopsgate.crm.errors import NotSupportedByVendor
from mopsgate.crm.records import Person, PersonQuery
from mopsgate.crm.refs import parse_ref
from mopsgate.governance.consent_floor import lookup_forms, normalise_email
from mopsgate.governance.hygiene import clean_text
from mopsgate.governance.policy import permitted_objects
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
    "never use weak matches."
)


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


async def by_email(client: Connector, keys: Sequence[str]) -> dict[str, list[Person]]:
    """Every record of each normalised address on this connector (one batched lookup)."""
    forms = sorted({form for key in keys for form in lookup_forms(key)})
    out: dict[str, list[Person]] = {}
    if not forms:
        return out
    for person in await client.people_by_email(forms):
        key = normalise_email(str(client.role_value(person, "email") or ""))
        if key is not None and key in keys:
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

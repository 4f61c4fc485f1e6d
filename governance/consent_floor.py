"""Who the compliance floor blocks from a send, judged per person rather than per record.

Real stacks hold the same person more than once: an import or a form fill creates a second
record under the same address in other case (the seed has 32 such pairs). An opt-out belongs
to the person, so the floor's rule is:

    A person may be sent to, triggered for, or added to a send list only if their own record
    AND every other record of the same connector with the same normalised email is subscribed.
    If any of them is opted out, suppressed or of unknown consent, so is the person (in that
    order of precedence), and the blocked record names the record that blocks it.

The normalised email is the address trimmed, its domain in IDNA ASCII form (``müller.de`` and
``xn--mller-kva.de`` are one domain), all in lower case; the vendors compare addresses without
regard to case, so the lookup finds every spelling that differs only in case. An address that
cannot be normalised — a local part that is not plain ASCII (which is how a homoglyph or an
invisible character would dodge the match), a malformed address or domain — cannot be matched
against anyone's opt-out, and the floor fails closed: the person counts as of unknown consent.

Records that share only a name and company are *not* merged: two people called Jane Smith at
Acme are two people, an address is what an email goes to, and a floor that blocked on a name
match would block people who never opted out. ``find_duplicates`` reports those groups for a
human to merge. Sub-addresses (``jane+news@``) and provider dot rules are not folded either:
they are other addresses as far as the vendors are concerned.

Express consent (catalogue C-04). Some jurisdictions allow a commercial email only with
express consent, and ask the sender to prove it (Canada's CASL). A person whose record places
them in such a country (the vendor's country field: an ISO code or a name, matched without
regard to case) may be sent to only if the connector's consent-evidence field holds something
(a form, a date). Canada is built in and the manifest cannot remove it; a connector's
``express_consent_countries`` adds others, and ``consent_evidence_field`` names the field if
it is not the vendor's default. A person without a country is not placed anywhere: the rule
asks for proof where the law is known to apply, and the opt-out and legal-basis checks hold
for everyone. Any record of the person (by normalised email) that fails it blocks the person.

The lookup costs extra upstream calls, at propose and again at apply: one batched
``people_by_email`` over the addresses of the people not already blocked by their own record
(Marketo ≈ 1 call per 150 addresses, HubSpot 1 per 100, Salesforce 2 per 150 — Leads and
Contacts). For an add to a list it runs only when it can change the answer
(``planning.send_list_floor``). A failed lookup raises; the plan or the apply then fails
closed with nothing proposed or written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

from mopsgate.crm.connector import Connector
from mopsgate.crm.errors import VendorError
from mopsgate.crm.records import Person
from mopsgate.governance.errors import UpstreamFailure
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.plan_checks import consent_blocks

Block = tuple[str, str]  # (reason_code, reason)

# RFC 5322 dot-atom text, ASCII only: what a vendor stores, compares and sends to alike.
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
# Worst first: the reason a person is blocked is the strongest one among their records.
PRECEDENCE = ("opted_out", "suppressed", "consent_unknown", "express_consent_missing")
UNMATCHABLE = (
    "consent_unknown",
    "consent unknown: the email address is malformed or not plain ASCII, so it cannot be "
    "matched against the opt-outs of other records",
)


# Built into the floor: the manifest may add countries, never remove these (Canada, CASL).
EXPRESS_CONSENT_FLOOR = ("CA", "CAN", "Canada")


@dataclass(frozen=True)
class ExpressConsent:
    """Where a person needs recorded consent evidence before they may be emailed."""

    countries: frozenset[str]  # casefolded spellings
    country_field: Mapping[str, str]  # person object -> its country field
    evidence_field: Mapping[str, str]  # person object -> the field holding the proof

    def block(self, person: Person) -> Block | None:
        """(reason_code, reason) when ``person`` is in an express-consent country and their
        record holds no consent evidence."""
        country = person.fields.get(self.country_field.get(person.object, ""))
        if not isinstance(country, str) or country.strip().casefold() not in self.countries:
            return None
        field = self.evidence_field.get(person.object)
        evidence = person.fields.get(field) if field else None
        if isinstance(evidence, str) and evidence.strip():
            return None
        return (
            "express_consent_missing",
            f"no consent evidence ({field or 'no evidence field on ' + person.object}) for a "
            f"person in {country.strip()}, where email needs express consent on record (CASL)",
        )


def express_consent(manifest: Manifest, connector: str) -> ExpressConsent:
    """The express-consent rule for ``connector``: the built-in countries plus the manifest's,
    and the evidence field the manifest names or the vendor's default."""
    cat = manifest.catalogue
    cfg = manifest.connectors.get(connector)
    added = cfg.express_consent_countries if cfg else ()
    named = cfg.consent_evidence_field if cfg else None
    objects = cat.person_objects.get(connector, ())
    return ExpressConsent(
        countries=frozenset(c.casefold() for c in (*EXPRESS_CONSENT_FLOOR, *added)),
        country_field={
            o: f for o in objects if (f := cat.field_for(connector, o, "country")) is not None
        },
        evidence_field={
            o: f
            for o in objects
            if (f := named or cat.field_for(connector, o, "consent_evidence")) is not None
        },
    )


@dataclass(frozen=True)
class FloorBlock:
    """Why the floor blocks a person: the reason code, the blocking record's own reason, and
    that record when it is another one than the person's (``by``), so a reader can decide
    whether the caller may be told which record and why."""

    code: str
    reason: str
    by: Person | None = None

    @property
    def block(self) -> Block:
        if self.by is None:
            return self.code, self.reason
        return self.code, f"{self.reason} on {self.by.ref}, {SAME_ADDRESS}"


SAME_ADDRESS = "another record with the same email address"


def person_blocks(person: Person, express: ExpressConsent) -> Block | None:
    """What the floor holds against this one record: its consent, then express consent."""
    return consent_blocks(person) or express.block(person)


def normalise_email(raw: str) -> str | None:
    """The address the floor matches on, or None when it cannot be normalised."""
    local, at, domain = raw.strip().rpartition("@")
    if not at or not _LOCAL.fullmatch(local) or not domain:
        return None
    ascii_domain = _ascii_domain(domain)
    return None if ascii_domain is None else f"{local.lower()}@{ascii_domain}"


@lru_cache(maxsize=4096)
def _ascii_domain(domain: str) -> str | None:
    """A domain as the floor matches it (IDNA, lower case), or None when it is no domain.
    Kept per domain: a whole-database read normalises thousands of addresses on a few hundred
    domains, and the IDNA codec is most of what normalising costs."""
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = ascii_domain.split(".")
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    return ascii_domain


def lookup_forms(key: str) -> list[str]:
    """The spellings to ask the vendor for: the normalised address, and the same address with
    its domain in Unicode when it is an internationalised one (records keep what was typed)."""
    local, _, domain = key.partition("@")
    forms = [key]
    if "xn--" in domain:
        forms.append(f"{local}@{domain.encode('ascii').decode('idna')}")
    return forms


def email_of(client: Connector, person: Person) -> object:
    return client.role_value(person, "email")


async def floor_blocks(
    client: Connector,
    people: Iterable[Person],
    express: ExpressConsent,
    same_address: Iterable[Person] | None = None,
) -> dict[str, Block]:
    """ref → (reason_code, reason) for each of ``people`` the floor blocks from a send, by
    their own record and by every record sharing their normalised email. Raises
    :class:`UpstreamFailure` if the vendor cannot say (fail closed). ``same_address``: every
    record of this connector sharing an address with any of ``people``, found moments ago by
    the same lookup (a change across connectors finds its people that way), so it is not
    made twice; only a plan passes it, apply always looks again."""
    found = await floor_findings(client, people, express, same_address)
    return {ref: block.block for ref, block in found.items()}


async def floor_findings(
    client: Connector,
    people: Iterable[Person],
    express: ExpressConsent,
    same_address: Iterable[Person] | None = None,
) -> dict[str, FloorBlock]:
    """:func:`floor_blocks`, with the blocking record kept apart from the reason."""
    blocks: dict[str, FloorBlock] = {}
    keys: dict[str, str] = {}  # ref -> normalised email, for those the lookup must clear
    for person in people:
        if own := person_blocks(person, express):
            blocks[person.ref] = FloorBlock(*own)
            continue
        raw = email_of(client, person)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue  # no address: nothing to send to, and nothing to match
        key = normalise_email(raw) if isinstance(raw, str) else None
        if key is None:
            blocks[person.ref] = FloorBlock(*UNMATCHABLE)
        else:
            keys[person.ref] = key
    if keys:
        found = (
            _by_key(client, same_address, set(keys.values()), {})
            if same_address is not None
            else await _same_email(client, set(keys.values()))
        )
        for ref, key in keys.items():
            if block := _worst(ref, found.get(key, ()), express):
                blocks[ref] = block
    return blocks


@contextmanager
def reading_consent(connector: str, what: str) -> Iterator[None]:
    """A vendor failure while reading what the floor decides on becomes a refusal that says
    so: without the answer nobody may be sent to, so nothing goes ahead (fail closed)."""
    try:
        yield
    except VendorError as exc:
        raise UpstreamFailure(
            f"could not read consent on {connector} ({what}): {exc.message.rstrip('.')}.",
            hint="The compliance floor fails closed: nothing was proposed, sent or written. "
            "Try again later; if it persists, ask the platform owner to check the connector.",
            details={"vendor_code": exc.code, "http_status": exc.http_status},
        ) from exc


async def _same_email(client: Connector, keys: set[str]) -> dict[str, list[Person]]:
    """Every record of ``client`` holding one of ``keys``, grouped by key."""
    forms = {form: key for key in sorted(keys) for form in lookup_forms(key)}
    with reading_consent(client.name, f"the other records of {len(keys)} email address(es)"):
        found = await client.people_by_email(list(forms))
    return _by_key(client, found, keys, forms)


def _by_key(
    client: Connector, found: Iterable[Person], keys: set[str], forms: dict[str, str]
) -> dict[str, list[Person]]:
    out: dict[str, list[Person]] = {}
    for other in found:
        raw = email_of(client, other)
        if not isinstance(raw, str):
            continue
        key = normalise_email(raw) or forms.get(raw.strip().lower())
        if key in keys:
            out.setdefault(key, []).append(other)
    return out


def _worst(ref: str, others: Iterable[Person], express: ExpressConsent) -> FloorBlock | None:
    found: dict[str, FloorBlock] = {}
    for other in sorted(others, key=lambda p: p.ref):
        if other.ref != ref and (block := person_blocks(other, express)):
            found.setdefault(block[0], FloorBlock(block[0], block[1], other))
    return next((found[code] for code in PRECEDENCE if code in found), None)

"""PersonQuery → HubSpot search filter groups, plus the same predicate evaluated locally.

HubSpot ORs filter groups and ANDs filters inside a group, so alternatives (a single name
token in first *or* last name, "suppressed" meaning bad address *or* quarantined) multiply the
groups. When that would break HubSpot's caps the consent alternatives are left to the local
predicate, which always runs on consent anyway: the vendor filters are an optimisation, the
local check is the guarantee.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any

from mopsgate.connectors.hubspot import ids
from mopsgate.crm.records import Person, PersonQuery
from mopsgate.crm.refs import parse_ref

MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 10, 25

Filter = dict[str, Any]
_TOKEN = re.compile(r"\w+")


def contains_token(value: str, needle: str) -> bool:
    """Word-token match (``*`` wildcards allowed); a multi-word needle must appear as a run
    of consecutive tokens. Shared with the emulator so both sides agree on CONTAINS_TOKEN."""
    tokens = _TOKEN.findall(value.lower())
    wanted = [
        w.replace("wildcardx", "*")
        for w in _TOKEN.findall(needle.lower().replace("*", "wildcardx"))
    ] or [""]
    for start in range(len(tokens) - len(wanted) + 1):
        if all(fnmatchcase(tokens[start + i], w) for i, w in enumerate(wanted)):
            return True
    return False


def _f(name: str, op: str, value: str | None = None) -> Filter:
    out: Filter = {"propertyName": name, "operator": op}
    if value is not None:
        out["value"] = value
    return out


def owner_native(owner: str) -> str:
    """The owner id inside ``hubspot:owner:<id>``; anything else is taken as the id itself."""
    try:
        vendor, kind, native = parse_ref(owner)
    except ValueError:
        return owner
    return native if (vendor, kind) == (ids.VENDOR, "owner") else owner


def _name_alternatives(name: str | None) -> list[list[Filter]]:
    tokens = (name or "").split()
    if not tokens:
        return [[]]
    if len(tokens) == 1:
        return [
            [_f("firstname", "CONTAINS_TOKEN", tokens[0])],
            [_f("lastname", "CONTAINS_TOKEN", tokens[0])],
        ]
    return [
        [
            _f("firstname", "CONTAINS_TOKEN", tokens[0]),
            _f("lastname", "CONTAINS_TOKEN", " ".join(tokens[1:])),
        ]
    ]


def _consent_alternatives(status: str | None) -> list[list[Filter]]:
    not_opted = _f("hs_email_optout", "NEQ", "true")
    clean = [_f("hs_email_bad_address", "NEQ", "true"), _f("hs_email_quarantined", "NEQ", "true")]
    table: dict[str | None, list[list[Filter]]] = {
        None: [[]],
        "opted_out": [[_f("hs_email_optout", "EQ", "true")]],
        "suppressed": [
            [not_opted, _f("hs_email_bad_address", "EQ", "true")],
            [not_opted, _f("hs_email_quarantined", "EQ", "true")],
        ],
        "unknown": [
            [not_opted, *clean, _f("hs_legal_basis", "NOT_HAS_PROPERTY")],
            [_f("hs_email_optout", "NOT_HAS_PROPERTY"), *clean],
        ],
        "subscribed": [
            [_f("hs_email_optout", "EQ", "false"), *clean, _f("hs_legal_basis", "HAS_PROPERTY")]
        ],
    }
    return table[status]


def filter_groups(query: PersonQuery, after_id: str | None = None) -> list[dict[str, Any]]:
    base: list[Filter] = []
    if query.email:
        base.append(_f("email", "EQ", query.email.strip()))
    if query.company:
        base.append(_f("company", "CONTAINS_TOKEN", query.company))
    if query.lifecycle_stage:
        base.append(_f("lifecyclestage", "EQ", ids.lifecycle_to_hubspot(query.lifecycle_stage)))
    if query.owner_id:
        base.append(_f("hubspot_owner_id", "EQ", owner_native(query.owner_id)))
    if after_id is not None:
        base.append(_f("hs_object_id", "GT", after_id))
    names = _name_alternatives(query.name)
    consent_options: list[list[list[Filter]]] = [_consent_alternatives(query.consent), [[]]]
    groups: list[list[Filter]] = []
    for consents in consent_options:
        groups = [base + n + c for n in names for c in consents]
        if _within_caps(groups):
            break
    return [{"filters": g} for g in groups if g] if any(groups) else []


def _within_caps(groups: list[list[Filter]]) -> bool:
    return (
        len(groups) <= MAX_GROUPS
        and sum(map(len, groups)) <= MAX_FILTERS
        and all(len(g) <= MAX_FILTERS_PER_GROUP for g in groups)
    )


def matches(person: Person, query: PersonQuery) -> bool:
    """The query evaluated on a fetched record (list-scoped search, consent guarantee)."""
    f = person.fields

    def text(name: str) -> str:
        value = f.get(name)
        return value if isinstance(value, str) else ""

    if query.email and text("email").strip().lower() != query.email.strip().lower():
        return False
    if query.company and not contains_token(text("company"), query.company):
        return False
    if query.lifecycle_stage and text("lifecyclestage") != ids.lifecycle_to_hubspot(
        query.lifecycle_stage
    ):
        return False
    if query.owner_id and text("hubspot_owner_id") != owner_native(query.owner_id):
        return False
    if query.consent and person.consent.status != query.consent:
        return False
    tokens = (query.name or "").split()
    if len(tokens) == 1:
        return any(contains_token(text(n), tokens[0]) for n in ("firstname", "lastname"))
    if tokens:
        return contains_token(text("firstname"), tokens[0]) and contains_token(
            text("lastname"), " ".join(tokens[1:])
        )
    return True

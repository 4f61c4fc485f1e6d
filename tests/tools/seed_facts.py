"""What the read tools must return, computed from the seed and each vendor's ids module only —
never by asking an emulator or a client — so a wrong mapping cannot hide behind itself."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mopsgate.crm.refs import make_ref
from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.salesforce import ids as sf
from mopsgate.sandbox.seed import INVISIBLES, SeedData, SeedPerson, seed_data

SEED: SeedData = seed_data()
EMAIL_TYPES = {
    "email_sent",
    "email_delivered",
    "email_opened",
    "email_clicked",
    "email_bounced",
    "unsubscribed",
}


@dataclass(frozen=True)
class Vendor:
    name: str
    person_ref: Callable[[int], str]
    native: Callable[[int], Any]  # emulator helper id of a seed person
    list_ref: Callable[[int], str]
    members_ref: Callable[[int], str]  # the campaign that holds a seed campaign's members
    fields: dict[str, str]  # role -> vendor field name (person object of a Lead-like person)
    static_lists: bool  # only static seed lists exist as lists (Salesforce)
    activity_ref: Callable[[int], str]

    def person_obj(self, idx: int) -> str:
        return self.person_ref(idx).split(":")[1]


VENDORS: dict[str, Vendor] = {
    "marketo": Vendor(
        "marketo",
        mk.lead_ref,
        mk.lead_id,
        mk.list_ref,
        mk.program_ref,
        {
            "email": "email",
            "phone": "phone",
            "street": "address",
            "notes": "comments",
            "first_name": "firstName",
            "company": "company",
        },
        static_lists=False,
        activity_ref=mk.activity_ref,
    ),
    "hubspot": Vendor(
        "hubspot",
        hs.person_ref,
        hs.person_id,
        hs.list_ref,
        hs.campaign_ref,
        {
            "email": "email",
            "phone": "phone",
            "street": "address",
            "notes": "message",
            "first_name": "firstname",
            "company": "company",
        },
        static_lists=False,
        activity_ref=lambda i: make_ref("hubspot", "email_event", hs.email_event_id(i)),
    ),
    "salesforce": Vendor(
        "salesforce",
        sf.person_ref,
        sf.person_id,
        sf.list_ref,
        sf.campaign_ref,
        {
            "email": "Email",
            "phone": "Phone",
            "street": "Street",
            "notes": "Description",
            "first_name": "FirstName",
            "company": "Company",
        },
        static_lists=True,
        activity_ref=lambda i: make_ref("salesforce", "Task", sf.task_id(i)),
    ),
}
NAMES = sorted(VENDORS)


def lead_like(idx: int) -> bool:
    """Salesforce Contacts name some fields differently; most checks use Leads."""
    return not sf.is_contact(idx)


_EMAILS = Counter(p.email.strip().casefold() for p in SEED.people)


def unique_email(idx: int) -> bool:
    return _EMAILS[SEED.people[idx].email.strip().casefold()] == 1


def first(pred: Callable[[SeedPerson], bool]) -> SeedPerson:
    return next(p for p in SEED.people if pred(p) and lead_like(p.idx) and unique_email(p.idx))


def first_with(status: str) -> SeedPerson:
    return first(lambda p: p.consent_status == status)


_BY_EMAIL: dict[str, list[SeedPerson]] = defaultdict(list)
for _p in SEED.people:
    _BY_EMAIL[_p.email.strip().casefold()].append(_p)


def person_status(idx: int) -> str:
    """The compliance floor's verdict on a seed person: their own consent, or, for a subscribed
    record, the worst of every record sharing the address (opted_out > suppressed > unknown)."""
    own = SEED.people[idx].consent_status
    if own != "subscribed":
        return own
    others = {p.consent_status for p in _BY_EMAIL[SEED.people[idx].email.strip().casefold()]}
    return next((s for s in ("opted_out", "suppressed", "unknown") if s in others), own)


def visible(text: str) -> str:
    for ch in INVISIBLES:
        text = text.replace(ch, "")
    return text


def expected_conflicts(
    v: Vendor, only: int | None = None, *, audience: bool = True
) -> dict[str, set[str]]:
    """person ref -> where found: members of active e-mail campaigns and of their audience
    lists who may not be emailed (``person_status``: their record or another with the same
    address is not subscribed). Salesforce cannot link them: there the shipped manifest declares the
    other lists as feeding no sends, which leaves the same ones; ``audience=False`` leaves the
    lists out, as for one Salesforce campaign, which names no list)."""
    found: dict[int, set[str]] = defaultdict(set)
    for camp in SEED.campaigns:
        if only is None and not (camp.active and camp.sends_email):
            continue
        if only is not None and camp.idx != only:
            continue
        for idx, _status in camp.members:
            found[idx].add(v.members_ref(camp.idx))
        if audience and camp.audience_list is not None:
            for idx in SEED.lists[camp.audience_list].members:
                found[idx].add(v.list_ref(camp.audience_list))
    return {
        v.person_ref(i): where for i, where in found.items() if person_status(i) != "subscribed"
    }


def expected_duplicates(
    v: Vendor, among: set[int] | None = None
) -> set[tuple[str, frozenset[str]]]:
    groups: dict[tuple[str, str], set[str]] = defaultdict(set)
    for p in SEED.people:
        if among is not None and p.idx not in among:
            continue
        ref = v.person_ref(p.idx)
        groups[("email", p.email.strip().casefold())].add(ref)
        name = " ".join(visible(f"{p.first_name} {p.last_name}").split()).casefold()
        groups[("name+company", f"{name} @ {p.company.casefold()}")].add(ref)
    return {(kind, frozenset(refs)) for (kind, _), refs in groups.items() if len(refs) > 1}

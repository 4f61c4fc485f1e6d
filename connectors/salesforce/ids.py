"""Deterministic seed index → Salesforce native id / record reference.

Tests and the other connectors compute expected results from ``seed_data`` through these
functions, so the emulator, the client tests and cross-vendor checks agree on every id without
asking the emulator. Ids are 15-character, case-sensitive, with the standard key prefixes
(``00Q`` Lead, ``003`` Contact, ``701`` Campaign, ``00v`` CampaignMember, ``005`` User,
``00T`` Task); the middle ``5e000`` is a made-up pod/instance part.
"""

from __future__ import annotations

import re

from mopsgate.connectors.model import make_ref, parse_ref

VENDOR = "salesforce"
LEAD = "Lead"
CONTACT = "Contact"
CAMPAIGN = "Campaign"
USER = "User"
TASK = "Task"
CAMPAIGN_MEMBER = "CampaignMember"
PERSON_OBJECTS = (LEAD, CONTACT)

SANDBOX_CLIENT_ID = "sandbox"
SANDBOX_CLIENT_SECRET = "sandbox"  # noqa: S105 - the emulator's published sandbox secret
DEFAULT_API_VERSION = "v62.0"

# Any Salesforce record id: 15 case-sensitive or 18 case-insensitive characters.
ID_RE = re.compile(r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$")
VERSION_RE = re.compile(r"^v[0-9]{2,3}\.0$")

PREFIX = {
    LEAD: "00Q",
    CONTACT: "003",
    CAMPAIGN: "701",
    CAMPAIGN_MEMBER: "00v",
    USER: "005",
    TASK: "00T",
    "CampaignMemberStatus": "01Y",
}
OBJECT_BY_PREFIX = {v: k for k, v in PREFIX.items()}

_LEAD = "00Q5e0000"
_CONTACT = "0035e0000"
_LIST_CAMPAIGN = "7015e0001"
_CAMPAIGN = "7015e0000"
_MEMBER = "00v5e0000"
_USER = "0055e0000"
_TASK = "00T5e0000"
_STATUS = "01Y5e0000"


def is_contact(idx: int) -> bool:
    """Every fifth seed person is a Contact (converted or sales-owned), the rest are Leads."""
    return idx % 5 == 4


def person_object(idx: int) -> str:
    return CONTACT if is_contact(idx) else LEAD


def person_id(idx: int) -> str:
    return (_CONTACT if is_contact(idx) else _LEAD) + f"{idx:06d}"


def person_ref(idx: int) -> str:
    return make_ref(VENDOR, person_object(idx), person_id(idx))


def person_idx(native_id: str) -> int:
    return int(native_id[9:15])


def list_id(list_idx: int) -> str:
    """Seed static lists become Campaigns of Type 'List' (the dynamic list is not mapped)."""
    return _LIST_CAMPAIGN + f"{list_idx:06d}"


def list_ref(list_idx: int) -> str:
    return make_ref(VENDOR, CAMPAIGN, list_id(list_idx))


def campaign_id(idx: int) -> str:
    return _CAMPAIGN + f"{idx:06d}"


def campaign_ref(idx: int) -> str:
    return make_ref(VENDOR, CAMPAIGN, campaign_id(idx))


def owner_id(owner_idx: int) -> str:
    return _USER + f"{owner_idx:06d}"


def owner_ref(owner_idx: int) -> str:
    return make_ref(VENDOR, USER, owner_id(owner_idx))


def member_id(n: int) -> str:
    """CampaignMember ids are numbered in build order: list members, then campaign members."""
    return _MEMBER + f"{n:06d}"


def task_id(n: int) -> str:
    """Seed activity ``idx`` is Task ``task_id(idx)``; tasks written later continue the count."""
    return _TASK + f"{n:06d}"


def status_id(n: int) -> str:
    return _STATUS + f"{n:06d}"


def valid_id(native_id: str, obj: str | None = None) -> bool:
    """Shape check before an id goes into a path or a query; optionally the object's prefix."""
    if not ID_RE.match(native_id):
        return False
    return obj is None or native_id[:3] == PREFIX.get(obj)


def parse_native(ref: str, objects: tuple[str, ...]) -> tuple[str, str]:
    """``salesforce:<Object>:<id>`` → (object, id), refusing other connectors, objects or shapes.

    Raises ValueError with a message that says what was expected.
    """
    connector, obj, native = parse_ref(ref)
    if connector != VENDOR:
        raise ValueError(f"{ref!r} is not a Salesforce reference")
    if obj not in objects:
        raise ValueError(f"{ref!r}: expected one of {', '.join(objects)}")
    if not valid_id(native, obj):
        raise ValueError(f"{ref!r}: {native!r} is not a valid {obj} id")
    return obj, native


def object_of(native_id: str) -> str | None:
    return OBJECT_BY_PREFIX.get(native_id[:3])

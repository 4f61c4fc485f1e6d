"""The sandbox's numbering and credentials: deterministic seed index → Salesforce native id
/ record reference.

Tests and the other connectors compute expected results from ``seed_data`` through these
functions, so the emulator, the client tests and cross-vendor checks agree on every id without
asking the emulator. The middle ``5e000`` of every id is a made-up pod/instance part.
"""

from __future__ import annotations

from mopsgate.connectors.salesforce.ids import (
    CAMPAIGN,
    CAMPAIGN_MEMBER,
    CONTACT,
    DEFAULT_API_VERSION,
    ID_RE,
    LEAD,
    OBJECT_BY_PREFIX,
    PERSON_OBJECTS,
    PREFIX,
    TASK,
    USER,
    VENDOR,
    VERSION_RE,
    object_of,
    parse_native,
    valid_id,
)
from mopsgate.crm.refs import make_ref

SANDBOX_CLIENT_ID = "sandbox"
SANDBOX_CLIENT_SECRET = "sandbox"  # noqa: S105 - the emulator's published sandbox secret

_LEAD = "00Q5e0000"
_CONTACT = "0035e0000"
_NEW_LEAD = "00Q5e0001"  # Leads and Contacts created through the API (after the seed's)
_NEW_CONTACT = "0035e0001"
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


def new_lead_id(n: int) -> str:
    return _NEW_LEAD + f"{n:06d}"


def new_contact_id(n: int) -> str:
    return _NEW_CONTACT + f"{n:06d}"


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


# The vendor's own identities are re-exported: a sandbox id is one of them.
__all__ = [
    "CAMPAIGN",
    "CAMPAIGN_MEMBER",
    "CONTACT",
    "DEFAULT_API_VERSION",
    "ID_RE",
    "LEAD",
    "OBJECT_BY_PREFIX",
    "PERSON_OBJECTS",
    "PREFIX",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "TASK",
    "USER",
    "VENDOR",
    "VERSION_RE",
    "campaign_id",
    "campaign_ref",
    "is_contact",
    "list_id",
    "list_ref",
    "member_id",
    "new_contact_id",
    "new_lead_id",
    "object_of",
    "owner_id",
    "owner_ref",
    "parse_native",
    "person_id",
    "person_idx",
    "person_object",
    "person_ref",
    "status_id",
    "task_id",
    "valid_id",
]

"""The sandbox's numbering and credentials: deterministic seed index → HubSpot native id /
record reference.

Tests and other engineers compute expected results from ``seed_data`` through these functions,
so the emulator, the client tests and any cross-vendor check agree on every id without ever
asking the emulator.
"""

from __future__ import annotations

import uuid

from mopsgate.connectors.hubspot.ids import (
    CONTACT,
    CONTACT_TYPE_ID,
    CONTACT_TYPES,
    EXAMPLE_GUID,
    GUID,
    LIFECYCLE_FROM_HUBSPOT,
    LIFECYCLE_TO_HUBSPOT,
    NUMERIC_ID,
    VENDOR,
    lifecycle_to_hubspot,
    native_id,
)
from mopsgate.crm.refs import make_ref

SANDBOX_TOKEN = "pat-sandbox"  # noqa: S105 - the emulator's published private-app token
SANDBOX_CLIENT_ID = "sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-secret"  # noqa: S105
SANDBOX_REFRESH_TOKEN = "sandbox-refresh"  # noqa: S105

_CONTACT_BASE = 1001
_COMPANY_BASE = 5001
_LIST_BASE = 1
_OWNER_BASE = 70001
_EMAIL_BASE = 9_000_001
_EMAIL_CAMPAIGN_BASE = 300_000_001

# The emulator files each seed campaign member under one campaign report type.
_CONTACT_TYPE_BY_SEED_STATUS = {
    "Clicked": "contactFirstTouch",
    "Attended": "contactFirstTouch",
    "Opened": "contactLastTouch",
    "Registered": "contactLastTouch",
}


def person_id(idx: int) -> str:
    return str(_CONTACT_BASE + idx)


def person_ref(idx: int) -> str:
    return make_ref(VENDOR, CONTACT, person_id(idx))


def person_idx(native_id: str) -> int:
    return int(native_id) - _CONTACT_BASE


def company_id(n: int) -> str:
    """Seed companies are numbered by first appearance of the name among the seed people."""
    return str(_COMPANY_BASE + n)


def list_id(idx: int) -> str:
    return str(_LIST_BASE + idx)


def list_ref(idx: int) -> str:
    return make_ref(VENDOR, "list", list_id(idx))


def campaign_id(idx: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"mopsgate-campaign-{idx}"))


def campaign_ref(idx: int) -> str:
    return make_ref(VENDOR, "campaign", campaign_id(idx))


def owner_id(idx: int) -> str:
    return str(_OWNER_BASE + idx)


def owner_ref(idx: int) -> str:
    return make_ref(VENDOR, "owner", owner_id(idx))


def email_id(campaign_idx: int) -> str:
    """The marketing email asset of an email-sending seed campaign."""
    return str(_EMAIL_BASE + campaign_idx)


def email_campaign_id(campaign_idx: int) -> str:
    """The numeric ``emailCampaignId`` carried by that email's events (legacy events API)."""
    return str(_EMAIL_CAMPAIGN_BASE + campaign_idx)


def email_event_id(activity_idx: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"mopsgate-email-event-{activity_idx}"))


def lead_status_to_hubspot(status: str) -> str:
    return status.upper()


def contact_type_for_status(seed_status: str) -> str:
    return _CONTACT_TYPE_BY_SEED_STATUS.get(seed_status, "influencedContacts")


# The vendor's own identities are re-exported: a sandbox id is one of them.
__all__ = [
    "CONTACT",
    "CONTACT_TYPES",
    "CONTACT_TYPE_ID",
    "EXAMPLE_GUID",
    "GUID",
    "LIFECYCLE_FROM_HUBSPOT",
    "LIFECYCLE_TO_HUBSPOT",
    "NUMERIC_ID",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "SANDBOX_REFRESH_TOKEN",
    "SANDBOX_TOKEN",
    "VENDOR",
    "campaign_id",
    "campaign_ref",
    "company_id",
    "contact_type_for_status",
    "email_campaign_id",
    "email_event_id",
    "email_id",
    "lead_status_to_hubspot",
    "lifecycle_to_hubspot",
    "list_id",
    "list_ref",
    "native_id",
    "owner_id",
    "owner_ref",
    "person_id",
    "person_idx",
    "person_ref",
]

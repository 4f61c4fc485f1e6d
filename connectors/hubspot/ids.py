"""Deterministic seed index → HubSpot native id / record reference.

Tests and other engineers compute expected results from ``seed_data`` through these functions,
so the emulator, the client tests and any cross-vendor check agree on every id without ever
asking the emulator.
"""

from __future__ import annotations

import re
import uuid

from mopsgate.connectors.model import make_ref

VENDOR = "hubspot"
CONTACT = "contact"
CONTACT_TYPE_ID = "0-1"  # HubSpot's object type id of contacts (Lists API)

SANDBOX_TOKEN = "pat-sandbox"  # noqa: S105 - the emulator's published private-app token
SANDBOX_CLIENT_ID = "sandbox-client"
SANDBOX_CLIENT_SECRET = "sandbox-secret"  # noqa: S105
SANDBOX_REFRESH_TOKEN = "sandbox-refresh"  # noqa: S105

_CONTACT_BASE = 1001
_LIST_BASE = 1
_OWNER_BASE = 70001
_EMAIL_BASE = 9_000_001
_EMAIL_CAMPAIGN_BASE = 300_000_001

NUMERIC_ID = re.compile(r"^[0-9]{1,18}$")
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

# Seed lifecycle vocabulary → HubSpot's default lifecyclestage internal values.
LIFECYCLE_TO_HUBSPOT = {
    "subscriber": "subscriber",
    "lead": "lead",
    "mql": "marketingqualifiedlead",
    "sql": "salesqualifiedlead",
    "opportunity": "opportunity",
    "customer": "customer",
    "other": "other",
}
LIFECYCLE_FROM_HUBSPOT = {v: k for k, v in LIFECYCLE_TO_HUBSPOT.items()}

# HubSpot has no campaign status ladder; campaign "members" are the contacts the campaign
# report attributes to it. The emulator files each seed member under one report type.
CONTACT_TYPES = ("contactFirstTouch", "contactLastTouch", "influencedContacts")
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


def lifecycle_to_hubspot(stage: str) -> str:
    return LIFECYCLE_TO_HUBSPOT.get(stage, stage)


def lead_status_to_hubspot(status: str) -> str:
    return status.upper()


def contact_type_for_status(seed_status: str) -> str:
    return _CONTACT_TYPE_BY_SEED_STATUS.get(seed_status, "influencedContacts")

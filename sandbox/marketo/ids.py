"""The sandbox's numbering: deterministic seed index -> Marketo native id -> mopsgate ref.

Tests and other packages compute expected results from the seed through these functions, so
the emulator, the client and every assertion agree on one numbering without sharing state.
"""

from __future__ import annotations

from mopsgate.connectors.marketo.ids import (
    ACTIVITY,
    ACTIVITY_TYPE_IDS,
    ACTIVITY_TYPE_NAMES,
    CAMPAIGN_OBJECTS,
    DELETED_LEAD_TYPE_ID,
    LEAD,
    LIST,
    PROGRAM,
    SALES_PERSON,
    SMART_CAMPAIGN,
    VENDOR,
    is_lead,
    native_id,
)
from mopsgate.crm.refs import make_ref
from mopsgate.sandbox.seed_model import SeedCampaign

SANDBOX_CLIENT_ID = "sandbox"
SANDBOX_CLIENT_SECRET = "sandbox"  # noqa: S105 - the public sandbox credential

LEAD_BASE = 100001
LIST_BASE = 1001
PROGRAM_BASE = 2001
SMART_CAMPAIGN_BASE = 3001
OWNER_BASE = 501
ACTIVITY_BASE = 900001


def lead_id(idx: int) -> int:
    return LEAD_BASE + idx


def lead_ref(idx: int) -> str:
    return make_ref(VENDOR, LEAD, lead_id(idx))


def lead_idx(native_id: int) -> int:
    return native_id - LEAD_BASE


def list_id(idx: int) -> int:
    return LIST_BASE + idx


def list_ref(idx: int) -> str:
    return make_ref(VENDOR, LIST, list_id(idx))


def program_id(idx: int) -> int:
    return PROGRAM_BASE + idx


def program_ref(idx: int) -> str:
    return make_ref(VENDOR, PROGRAM, program_id(idx))


def smart_campaign_id(idx: int) -> int:
    return SMART_CAMPAIGN_BASE + idx


def smart_campaign_ref(idx: int) -> str:
    return make_ref(VENDOR, SMART_CAMPAIGN, smart_campaign_id(idx))


def owner_id(idx: int) -> int:
    return OWNER_BASE + idx


def owner_ref(idx: int) -> str:
    return make_ref(VENDOR, SALES_PERSON, owner_id(idx))


def owner_field_value(idx: int) -> str:
    """The lead's ``externalSalesPersonId``: a string in Marketo, equal to the sales person id."""
    return str(owner_id(idx))


def activity_id(idx: int) -> int:
    return ACTIVITY_BASE + idx


def activity_ref(idx: int) -> str:
    return make_ref(VENDOR, ACTIVITY, activity_id(idx))


# Seed channel -> (Marketo program type, Marketo channel name). The channel's progression
# statuses are the seed campaign's ladder.
PROGRAM_CHANNELS: dict[str, tuple[str, str]] = {
    "email": ("Email", "Email Blast"),
    "webinar": ("Event with Webinar", "Webinar"),
    "event": ("Event", "Tradeshow"),
    "nurture": ("Engagement", "Nurture"),
}


def smart_campaign_type(camp: SeedCampaign) -> str:
    """``batch`` when the seed campaign is schedulable, else ``trigger``.

    The seed's "Webinar Nov 2026" is both schedulable and requestable; real Marketo needs a
    trigger campaign for Request Campaign, so the emulator makes it a *requestable batch*
    campaign (documented deviation) to keep both seed flags.
    """
    return "batch" if camp.schedulable else "trigger"


def activity_type_id(name: str) -> int:
    """Marketo type id of a seed/mopsgate activity type name (KeyError when unknown)."""
    for key, type_id in ACTIVITY_TYPE_IDS.items():
        if key == name:
            return type_id
    raise KeyError(name)


# The vendor's own identities are re-exported: a sandbox id is one of them.
__all__ = [
    "ACTIVITY",
    "ACTIVITY_BASE",
    "ACTIVITY_TYPE_IDS",
    "ACTIVITY_TYPE_NAMES",
    "CAMPAIGN_OBJECTS",
    "DELETED_LEAD_TYPE_ID",
    "LEAD",
    "LEAD_BASE",
    "LIST",
    "LIST_BASE",
    "OWNER_BASE",
    "PROGRAM",
    "PROGRAM_BASE",
    "SALES_PERSON",
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "SMART_CAMPAIGN",
    "SMART_CAMPAIGN_BASE",
    "VENDOR",
    "activity_id",
    "activity_ref",
    "activity_type_id",
    "is_lead",
    "lead_id",
    "lead_idx",
    "lead_ref",
    "list_id",
    "list_ref",
    "native_id",
    "owner_field_value",
    "owner_id",
    "owner_ref",
    "program_id",
    "program_ref",
    "smart_campaign_id",
    "smart_campaign_ref",
    "smart_campaign_type",
]

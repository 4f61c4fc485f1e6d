"""HubSpot's identities: the connector name, object names, id shapes, the one parser of
HubSpot refs, and the lifecycle and campaign-report vocabularies the client speaks.

The sandbox's seed numbering and credentials live in ``sandbox.hubspot.ids``.
"""

from __future__ import annotations

import re

from mopsgate.crm.errors import InvalidRequest
from mopsgate.crm.refs import parse_ref

VENDOR = "hubspot"
CONTACT = "contact"
CONTACT_TYPE_ID = "0-1"  # HubSpot's object type id of contacts (Lists API)

NUMERIC_ID = re.compile(r"^[0-9]{1,18}$")
EXAMPLE_GUID = "5b8db455-eec0-5c3b-8450-59f57302466d"
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
# report attributes to it, by report type.
CONTACT_TYPES = ("contactFirstTouch", "contactLastTouch", "influencedContacts")


def lifecycle_to_hubspot(stage: str) -> str:
    return LIFECYCLE_TO_HUBSPOT.get(stage, stage)


def native_id(ref: str, obj: str) -> str:
    """The vendor id inside a ref, validated against HubSpot's id shape before it can reach a
    URL."""
    try:
        vendor, kind, native = parse_ref(ref)
    except ValueError as exc:
        raise InvalidRequest(VENDOR, str(exc), code="invalid_ref") from exc
    shape = GUID if obj == "campaign" else NUMERIC_ID
    if vendor != VENDOR or kind != obj or not shape.match(native):
        example = f"hubspot:{obj}:" + (EXAMPLE_GUID if obj == "campaign" else "1051")
        raise InvalidRequest(
            VENDOR,
            f"{ref!r} is not a HubSpot {obj} reference (expected e.g. {example!r})",
            code="invalid_ref",
        )
    return native

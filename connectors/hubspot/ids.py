"""HubSpot's identities: the connector name, object names, id shapes and the lifecycle and
campaign-report vocabularies the client speaks.

The sandbox's seed numbering and credentials live in ``sandbox.hubspot.ids``.
"""

from __future__ import annotations

import re

VENDOR = "hubspot"
CONTACT = "contact"
CONTACT_TYPE_ID = "0-1"  # HubSpot's object type id of contacts (Lists API)

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
# report attributes to it, by report type.
CONTACT_TYPES = ("contactFirstTouch", "contactLastTouch", "influencedContacts")


def lifecycle_to_hubspot(stage: str) -> str:
    return LIFECYCLE_TO_HUBSPOT.get(stage, stage)

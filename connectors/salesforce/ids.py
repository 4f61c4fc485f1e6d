"""Salesforce's identities: object names, id shapes and key prefixes, and ref parsing.

Ids are 15-character case-sensitive or 18-character case-insensitive, with the standard key
prefixes (``00Q`` Lead, ``003`` Contact, ``701`` Campaign, ``00v`` CampaignMember, ``005``
User, ``00T`` Task). Every id is shape-checked here before it can reach a path or a query.
The sandbox's seed numbering lives in ``sandbox.salesforce.ids``.
"""

from __future__ import annotations

import re

from mopsgate.crm.refs import parse_ref

VENDOR = "salesforce"
LEAD = "Lead"
CONTACT = "Contact"
CAMPAIGN = "Campaign"
USER = "User"
TASK = "Task"
CAMPAIGN_MEMBER = "CampaignMember"
PERSON_OBJECTS = (LEAD, CONTACT)

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

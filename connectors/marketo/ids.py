"""Marketo's identities: the connector name, the object names in refs, activity type ids, and
the one parser of Marketo refs.

What the client must know to name Marketo records; the sandbox's seed numbering lives in
``sandbox.marketo.ids``. Native ids are validated against Marketo's id shape (positive
integers) here, before they can reach a path.
"""

from __future__ import annotations

import re

from mopsgate.crm.errors import InvalidRequest
from mopsgate.crm.records import ActivityType
from mopsgate.crm.refs import parse_ref

VENDOR = "marketo"
_ID = re.compile(r"[1-9][0-9]{0,17}\Z")

# Object names used in refs (``marketo:<object>:<id>``).
LEAD = "lead"
LIST = "list"
PROGRAM = "program"
SMART_CAMPAIGN = "smart_campaign"
SALES_PERSON = "sales_person"
ACTIVITY = "activity"
CAMPAIGN_OBJECTS = (PROGRAM, SMART_CAMPAIGN)

# mopsgate activity type -> Marketo activityTypeId (vendor-apis.md §2.4; confirm per instance
# with /activities/types.json). 47 for Request Campaign is unverified [U].
ACTIVITY_TYPE_IDS: dict[ActivityType, int] = {
    "web_visit": 1,
    "form_filled": 2,
    "email_sent": 6,
    "email_delivered": 7,
    "email_bounced": 8,
    "unsubscribed": 9,
    "email_opened": 10,
    "email_clicked": 11,
    "created": 12,
    "field_changed": 13,
    "score_changed": 22,
    "list_added": 24,
    "list_removed": 25,
    "campaign_requested": 47,
    "status_changed": 104,
}
DELETED_LEAD_TYPE_ID = 37

ACTIVITY_TYPE_NAMES: dict[int, str] = {
    1: "Visit Webpage",
    2: "Fill Out Form",
    6: "Send Email",
    7: "Email Delivered",
    8: "Email Bounced",
    9: "Unsubscribe Email",
    10: "Open Email",
    11: "Click Email",
    12: "New Lead",
    13: "Change Data Value",
    22: "Change Score",
    24: "Add to List",
    25: "Remove from List",
    37: "Delete Lead",
    47: "Request Campaign",
    104: "Change Status in Progression",
}


def native_id(ref: str, *objects: str) -> tuple[str, int]:
    """(object, id) of a Marketo ref of one of ``objects``; refuses anything else."""
    try:
        connector, obj, raw = parse_ref(ref)
    except ValueError as exc:
        raise InvalidRequest(VENDOR, str(exc)) from exc
    if connector != VENDOR or obj not in objects:
        raise InvalidRequest(
            VENDOR,
            f"{ref!r} is not a Marketo {' or '.join(objects)} "
            f"reference (expected e.g. 'marketo:{objects[0]}:1001')",
        )
    if not _ID.match(raw):
        raise InvalidRequest(VENDOR, f"{ref!r}: Marketo ids are positive integers")
    return obj, int(raw)


def is_lead(ref: str) -> bool:
    try:
        native_id(ref, LEAD)
    except InvalidRequest:
        return False
    return True

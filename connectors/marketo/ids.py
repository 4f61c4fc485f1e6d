"""Marketo's identities: the connector name, the object names in refs, activity type ids.

What the client must know to name Marketo records; the sandbox's seed numbering lives in
``sandbox.marketo.ids``.
"""

from __future__ import annotations

from mopsgate.connectors.model import ActivityType

CONNECTOR = "marketo"

# Object names used in refs (``marketo:<object>:<id>``).
LEAD = "lead"
LIST = "list"
PROGRAM = "program"
SMART_CAMPAIGN = "smart_campaign"
SALES_PERSON = "sales_person"
ACTIVITY = "activity"

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

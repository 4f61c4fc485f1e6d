"""Object and field catalogue shared by the Salesforce emulator and client.

The emulator validates SOQL and writes against it (unknown names → ``INVALID_FIELD``), and the
client's SOQL builder accepts only names listed here, so no field or object name in a query can
ever come from tool input. Person objects come from ``connectors.schema``; the other objects
carry the standard fields MOPs work needs.
"""

from __future__ import annotations

from functools import cache

from mopsgate.connectors.salesforce.ids import VENDOR
from mopsgate.connectors.schema import PERSON_OBJECTS, FieldSpec
from mopsgate.crm.records import ActivityType

OTHER_FIELDS: dict[str, tuple[str, ...]] = {
    "Campaign": (
        "Id",
        "Name",
        "Type",
        "Status",
        "IsActive",
        "Description",
        "StartDate",
        "EndDate",
        "OwnerId",
        "ParentId",
        "NumberOfLeads",
        "NumberOfContacts",
        "NumberOfResponses",
        "NumberSent",
        "CreatedDate",
        "LastModifiedDate",
    ),
    "CampaignMember": (
        "Id",
        "CampaignId",
        "LeadId",
        "ContactId",
        "LeadOrContactId",
        "Status",
        "HasResponded",
        "FirstRespondedDate",
        "CreatedDate",
        "Email",
        "FirstName",
        "LastName",
        "HasOptedOutOfEmail",
        "DoNotCall",
    ),
    "CampaignMemberStatus": ("Id", "CampaignId", "Label", "SortOrder", "HasResponded", "IsDefault"),
    "User": ("Id", "Name", "Email", "Username", "IsActive"),
    "Task": (
        "Id",
        "WhoId",
        "WhatId",
        "Subject",
        "Type",
        "TaskSubtype",
        "Status",
        "ActivityDate",
        "CreatedDate",
        "OwnerId",
        "Description",
    ),
}

_OWNER = {"Owner": ("OwnerId", "User")}
RELATIONSHIPS: dict[str, dict[str, tuple[str, str]]] = {
    "Lead": _OWNER,
    "Contact": _OWNER,
    "Campaign": _OWNER,
    "Task": _OWNER,
    "CampaignMember": {
        "Campaign": ("CampaignId", "Campaign"),
        "Lead": ("LeadId", "Lead"),
        "Contact": ("ContactId", "Contact"),
    },
}

# Computed, read-only person field (FirstName + LastName) that SOQL can filter on.
NAME_FIELD = "Name"

# Field the emulator's describe uses for Salesforce's data types.
SF_TYPES = {
    "string": "string",
    "email": "email",
    "phone": "phone",
    "integer": "int",
    "float": "double",
    "boolean": "boolean",
    "datetime": "datetime",
    "reference": "reference",
    "text": "textarea",
    "picklist": "picklist",
}
FROM_SF_TYPES = {v: k for k, v in SF_TYPES.items()} | {"id": "string", "date": "datetime"}

# Activities are Tasks; the Subject names the MOPs activity type.
TASK_SUBJECTS: dict[ActivityType, str] = {
    "email_sent": "Email Sent",
    "email_delivered": "Email Delivered",
    "email_opened": "Email Opened",
    "email_clicked": "Email Clicked",
    "email_bounced": "Email Bounced",
    "unsubscribed": "Unsubscribed",
    "form_filled": "Form Filled",
    "web_visit": "Web Visit",
    "field_changed": "Field Changed",
    "score_changed": "Score Changed",
    "status_changed": "Campaign Status Changed",
    "list_added": "Added to Campaign",
    "list_removed": "Removed from Campaign",
    "campaign_requested": "Campaign Requested",
    "created": "Created",
    "other": "Other",
}
ACTIVITY_BY_SUBJECT: dict[str, ActivityType] = {v: k for k, v in TASK_SUBJECTS.items()}


def person_specs(obj: str) -> tuple[FieldSpec, ...]:
    return PERSON_OBJECTS[VENDOR][obj]


def is_person(obj: str) -> bool:
    return obj in PERSON_OBJECTS[VENDOR]


@cache
def object_fields(obj: str) -> tuple[str, ...]:
    if is_person(obj):
        return (*(s.name for s in person_specs(obj)), NAME_FIELD)
    return OTHER_FIELDS[obj]


def all_objects() -> tuple[str, ...]:
    return (*PERSON_OBJECTS[VENDOR], *OTHER_FIELDS)


@cache
def _lower_fields(obj: str) -> dict[str, str]:
    return {f.lower(): f for f in object_fields(obj)}


def canonical_object(name: str) -> str | None:
    """SOQL names are case-insensitive; the canonical spelling is the catalogue's."""
    return {o.lower(): o for o in all_objects()}.get(name.lower())


def canonical_field(obj: str, name: str) -> str | None:
    return _lower_fields(obj).get(name.lower())


def has_field(obj: str, name: str) -> bool:
    return name in object_fields(obj)

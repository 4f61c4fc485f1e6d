"""Salesforce records → the common model.

Person fields keep Salesforce names (the manifest's field rules name them); consent comes from
``consent_from_fields`` exactly as for every other vendor. Campaigns of Type 'List' are the
Salesforce stand-in for static lists.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mopsgate.connectors.records_check import checked_person
from mopsgate.connectors.salesforce import fields as cat
from mopsgate.connectors.salesforce import ids
from mopsgate.crm.records import (
    Activity,
    Campaign,
    CampaignMember,
    Owner,
    Person,
    PersonList,
    StatusStep,
)
from mopsgate.crm.refs import make_ref

LIST_TYPE = "List"
# Salesforce sends no email itself: a connected platform (Marketing Cloud, Account Engagement)
# emails a campaign's members. Campaigns of these Types are the ones such platforms email (a
# webinar's invitations and reminders are email, a trade show's booth scans are not).
EMAIL_TYPES = frozenset({"Email", "Webinar"})
CAMPAIGN_FIELDS = (
    "Id",
    "Name",
    "Type",
    "Status",
    "IsActive",
    "Description",
    "CreatedDate",
    "NumberOfLeads",
    "NumberOfContacts",
    "NumberOfResponses",
    "OwnerId",
)
LADDER_FIELDS = ("CampaignId", "Label", "SortOrder", "HasResponded")
MEMBER_FIELDS = ("Id", "CampaignId", "LeadId", "ContactId", "Status", "HasResponded", "CreatedDate")
TASK_FIELDS = (
    "Id",
    "WhoId",
    "WhatId",
    "Subject",
    "Type",
    "Status",
    "ActivityDate",
    "CreatedDate",
    "Description",
)
USER_FIELDS = ("Id", "Name", "Email", "IsActive")

Record = dict[str, Any]


def person_fields(obj: str) -> tuple[str, ...]:
    return tuple(s.name for s in cat.person_specs(obj))


def parse_dt(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None


def person_ref_of(native_id: str | None) -> str | None:
    obj = ids.object_of(native_id or "")
    if native_id is None or obj not in ids.PERSON_OBJECTS:
        return None
    return make_ref(ids.VENDOR, obj, native_id)


def to_person(obj: str, rec: Record) -> Person:
    return checked_person(ids.VENDOR, obj, rec.get("Id"), rec)


def _count(rec: Record) -> int | None:
    leads, contacts = rec.get("NumberOfLeads"), rec.get("NumberOfContacts")
    if leads is None and contacts is None:
        return None
    return int(leads or 0) + int(contacts or 0)


def to_list(rec: Record) -> PersonList:
    return PersonList(
        ref=make_ref(ids.VENDOR, ids.CAMPAIGN, str(rec["Id"])),
        name=str(rec.get("Name") or ""),
        kind="campaign",
        size=_count(rec),
        writable=True,
        description=rec.get("Description"),
        created_at=parse_dt(rec.get("CreatedDate")),
        owner_ref=make_ref(ids.VENDOR, ids.USER, str(rec["OwnerId"]))
        if rec.get("OwnerId")
        else None,
    )


def to_campaign(rec: Record, ladder: list[Record]) -> Campaign:
    """Salesforce has no audience-list link: an emailing campaign's audience is its own
    members, so it names itself as its audience list."""
    steps = sorted(ladder, key=lambda r: r.get("SortOrder") or 0)
    ref = make_ref(ids.VENDOR, ids.CAMPAIGN, str(rec["Id"]))
    sends = rec.get("Type") in EMAIL_TYPES
    return Campaign(
        ref=ref,
        name=str(rec.get("Name") or ""),
        kind="crm_campaign",
        channel=rec.get("Type"),
        status=rec.get("Status"),
        active=rec.get("IsActive"),
        triggerable=False,
        schedulable=False,
        sends_email=sends,
        audience_list_ref=ref if sends else None,
        status_ladder=[
            StatusStep(
                name=str(r["Label"]),
                step=int(r.get("SortOrder") or 0),
                success=bool(r.get("HasResponded")),
            )
            for r in steps
        ],
        member_count=_count(rec),
    )


def to_member(rec: Record) -> CampaignMember | None:
    person = person_ref_of(rec.get("LeadId") or rec.get("ContactId"))
    if person is None:
        return None
    return CampaignMember(
        campaign_ref=make_ref(ids.VENDOR, ids.CAMPAIGN, str(rec["CampaignId"])),
        person_ref=person,
        status=rec.get("Status"),
        success=rec.get("HasResponded"),
        member_since=parse_dt(rec.get("CreatedDate")),
    )


def to_activity(rec: Record) -> Activity | None:
    person = person_ref_of(rec.get("WhoId"))
    when = parse_dt(rec.get("CreatedDate"))
    if person is None or when is None:
        return None
    subject = str(rec.get("Subject") or "")
    what = rec.get("WhatId")
    campaign = (
        make_ref(ids.VENDOR, ids.CAMPAIGN, what)
        if isinstance(what, str) and ids.object_of(what) == ids.CAMPAIGN
        else None
    )
    return Activity(
        ref=make_ref(ids.VENDOR, ids.TASK, str(rec["Id"])),
        person_ref=person,
        type=cat.ACTIVITY_BY_SUBJECT.get(subject, "other"),
        vendor_type=subject,
        occurred_at=when,
        campaign_ref=campaign,
        attributes={k: rec.get(k) for k in ("Type", "Status", "ActivityDate", "Description")},
    )


def to_owner(rec: Record) -> Owner:
    return Owner(
        ref=make_ref(ids.VENDOR, ids.USER, str(rec["Id"])),
        name=str(rec.get("Name")),
        email=rec.get("Email"),
        active=bool(rec.get("IsActive")),
    )

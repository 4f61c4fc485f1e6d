"""Marketo records -> the common model.

Person.fields keep Marketo's own field names (the manifest's rules name them); the consent
verdict comes from ``consent_from_fields`` so the client and every emulator decide it the same
way. Timestamps accept both the lead-database (``…Z``) and the asset-API (``…Z+0000``) shapes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mopsgate.connectors.marketo import ids
from mopsgate.connectors.records_check import checked_person
from mopsgate.connectors.schema import MARKETO_LEAD
from mopsgate.crm.records import (
    Activity,
    ActivityType,
    Campaign,
    CampaignMember,
    Owner,
    Person,
    PersonList,
    StatusStep,
)
from mopsgate.crm.refs import make_ref

FIELD_NAMES: tuple[str, ...] = tuple(spec.name for spec in MARKETO_LEAD)
_TYPE_BY_ID: dict[int, ActivityType] = {v: k for k, v in ids.ACTIVITY_TYPE_IDS.items()}
# Program types whose flows send email by design; "Event" (tradeshow, field event) does not.
_NON_EMAIL_PROGRAM_TYPES = frozenset({"Event"})


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z+0000", "+00:00").replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def ref(obj: str, native_id: Any) -> str:
    return make_ref(ids.VENDOR, obj, native_id)


def person(record: dict[str, Any]) -> Person:
    return checked_person(ids.VENDOR, ids.LEAD, record.get("id"), record)


def static_list(record: dict[str, Any]) -> PersonList:
    return PersonList(
        ref=ref(ids.LIST, record["id"]),
        name=str(record.get("name", "")),
        kind="static",
        writable=True,
        description=record.get("description"),
        created_at=parse_time(record.get("createdAt")),
    )


def smart_list(record: dict[str, Any]) -> PersonList:
    """Smart lists are rule-based: read-only, and their members are not readable over REST."""
    return PersonList(
        ref=ref(ids.LIST, record["id"]),
        name=str(record.get("name", "")),
        kind="dynamic",
        writable=False,
        description=record.get("description"),
        created_at=parse_time(record.get("createdAt")),
    )


def ladder(channel: dict[str, Any] | None) -> list[StatusStep]:
    if not channel:
        return []
    steps = [
        StatusStep(name=str(s["name"]), step=int(s["step"]), success=bool(s["success"]))
        for s in channel.get("progressionStatuses", [])
    ]
    return sorted(steps, key=lambda s: s.step)


def program(record: dict[str, Any], channel: dict[str, Any] | None) -> Campaign:
    ptype = str(record.get("type") or "")
    status = record.get("status") or None
    return Campaign(
        ref=ref(ids.PROGRAM, record["id"]),
        name=str(record.get("name", "")),
        kind="program",
        channel=record.get("channel"),
        status=status,
        active=(status == "on") if ptype == "Engagement" else None,
        sends_email=ptype not in _NON_EMAIL_PROGRAM_TYPES,
        status_ladder=ladder(channel),
    )


def smart_campaign(
    record: dict[str, Any], audience_list_ref: str | None = None, *, audience_known: bool = True
) -> Campaign:
    """Flow steps are not readable over REST, so every smart campaign may send email."""
    active = bool(record.get("isActive"))
    return Campaign(
        ref=ref(ids.SMART_CAMPAIGN, record["id"]),
        name=str(record.get("name", "")),
        kind="smart_campaign",
        status=record.get("status"),
        active=active,
        triggerable=active and bool(record.get("isRequestable")),
        schedulable=record.get("type") == "batch",
        sends_email=True,
        audience_list_ref=audience_list_ref,
        audience_known=audience_known,
    )


def program_member(program_id: int, record: dict[str, Any]) -> CampaignMember:
    return CampaignMember(
        campaign_ref=ref(ids.PROGRAM, program_id),
        person_ref=ref(ids.LEAD, record["leadId"]),
        status=record.get("progressionStatus") or record.get("statusName"),
        success=record.get("reachedSuccess"),
        member_since=parse_time(record.get("membershipDate")),
    )


def membership(lead_id: int, record: dict[str, Any]) -> CampaignMember:
    return CampaignMember(
        campaign_ref=ref(ids.PROGRAM, record["id"]),
        person_ref=ref(ids.LEAD, lead_id),
        status=record.get("progressionStatus"),
        success=record.get("reachedSuccess"),
        member_since=parse_time(record.get("membershipDate")),
    )


def activity(record: dict[str, Any]) -> Activity:
    type_id = int(record.get("activityTypeId", 0))
    attrs: dict[str, Any] = {
        str(a.get("name")): a.get("value")
        for a in record.get("attributes") or []
        if isinstance(a, dict)
    }
    if record.get("primaryAttributeValue") is not None:
        attrs["primaryAttributeValue"] = record["primaryAttributeValue"]
    campaign = record.get("campaignId")
    when = parse_time(record.get("activityDate"))
    if when is None:
        raise ValueError(f"activity {record.get('id')} has no activityDate")
    return Activity(
        ref=ref(ids.ACTIVITY, record["id"]),
        person_ref=ref(ids.LEAD, record["leadId"]),
        type=_TYPE_BY_ID.get(type_id, "other"),
        vendor_type=ids.ACTIVITY_TYPE_NAMES.get(type_id, str(type_id)),
        occurred_at=when,
        campaign_ref=ref(ids.SMART_CAMPAIGN, campaign) if campaign else None,
        attributes=attrs,
    )


def owner(record: dict[str, Any]) -> Owner:
    name = " ".join(p for p in (record.get("firstName"), record.get("lastName")) if p)
    return Owner(
        ref=ref(ids.SALES_PERSON, record["id"]),
        name=name or str(record["id"]),
        email=record.get("email"),
        active=bool(record.get("isActive", True)),
    )

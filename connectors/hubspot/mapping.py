"""HubSpot JSON ↔ common model.

HubSpot sends every property as a string; the common model (and ``consent_from_fields``)
needs real booleans and numbers, typed by the field table in ``connectors.schema``. Writes go
the other way: ``True`` becomes ``"true"`` and ``None`` an empty string, which HubSpot reads as
"clear the value".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mopsgate.connectors.hubspot.ids import CONTACT, VENDOR
from mopsgate.connectors.records_check import checked_person
from mopsgate.connectors.schema import HUBSPOT_CONTACT
from mopsgate.crm.records import (
    Activity,
    ActivityType,
    Campaign,
    FieldInfo,
    Owner,
    Person,
    PersonList,
)
from mopsgate.crm.refs import make_ref

SPECS = {s.name: s for s in HUBSPOT_CONTACT}
PERSON_PROPERTIES = [s.name for s in HUBSPOT_CONTACT]
WRITABLE_LIST_TYPES = ("MANUAL", "SNAPSHOT")
ACTIVE_CAMPAIGN_STATUSES = ("in_progress", "planned", "active")

_EVENT_TYPES: dict[str, ActivityType] = {
    "SENT": "email_sent",
    "DELIVERED": "email_delivered",
    "OPEN": "email_opened",
    "CLICK": "email_clicked",
    "BOUNCE": "email_bounced",
    "STATUSCHANGE": "unsubscribed",
}
EVENT_TYPE_FOR: dict[ActivityType, str] = {v: k for k, v in _EVENT_TYPES.items()}
_HS_TYPE_TO_FIELD = {
    "bool": "boolean",
    "number": "float",
    "datetime": "datetime",
    "date": "datetime",
    "enumeration": "picklist",
}


_TYPES = {s.name: s.type for s in HUBSPOT_CONTACT}
_BOOLEANS = {"true": True, "false": False}
_CONVERTED = frozenset(n for n, t in _TYPES.items() if t in ("boolean", "integer", "float"))


def from_prop(name: str, raw: Any) -> Any:
    if raw is None or raw == "":
        return None
    type_ = _TYPES.get(name)
    if type_ is None or not isinstance(raw, str):
        return raw
    if type_ == "boolean":  # anything but HubSpot's two words stays text, and is refused
        return _BOOLEANS.get(raw.lower(), raw)
    if type_ in ("integer", "float"):
        try:
            number = float(raw)
        except ValueError:
            return raw
        return int(number) if type_ == "integer" and number.is_integer() else number
    return raw


def to_prop(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def contact_ref(native_id: str) -> str:
    return make_ref(VENDOR, CONTACT, native_id)


def to_person(record: dict[str, Any]) -> Person:
    props = record.get("properties") or {}
    # what from_prop makes of each: text as it came, "" as None, typed fields converted
    fields = {
        name: from_prop(name, raw) if name in _CONVERTED or raw == "" else raw
        for name, raw in props.items()
    }
    native = record.get("id")
    fields.setdefault("hs_object_id", native if isinstance(native, str) else None)
    return checked_person(VENDOR, CONTACT, native, fields)


def to_field_info(prop: dict[str, Any]) -> FieldInfo:
    name = str(prop.get("name"))
    spec = SPECS.get(name)
    meta = prop.get("modificationMetadata") or {}
    sensitive = prop.get("dataSensitivity") in ("sensitive", "highly_sensitive")
    ftype = spec.type if spec else _HS_TYPE_TO_FIELD.get(str(prop.get("type")), "string")
    options = [str(o.get("value")) for o in prop.get("options") or [] if isinstance(o, dict)]
    return FieldInfo(
        name=name,
        label=str(prop.get("label") or name),
        type=ftype,
        pii=sensitive or bool(spec and spec.pii),
        consent=bool(spec and spec.consent),
        read_only=bool(meta.get("readOnlyValue")) or bool(prop.get("calculated")),
        lifecycle=bool(spec and spec.lifecycle),
        picklist=options if ftype == "picklist" else [],
    )


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def to_list(data: dict[str, Any]) -> PersonList:
    extra = data.get("additionalProperties") or {}
    size = extra.get("hs_list_size", data.get("size"))
    ptype = str(data.get("processingType") or "")
    return PersonList(
        ref=make_ref(VENDOR, "list", str(data["listId"])),
        name=str(data.get("name") or ""),
        kind="static" if ptype in WRITABLE_LIST_TYPES else "dynamic",
        size=int(size) if size not in (None, "") else None,
        writable=ptype in WRITABLE_LIST_TYPES,
        created_at=parse_time(data.get("createdAt")),
    )


def to_campaign(
    data: dict[str, Any],
    *,
    member_count: int | None = None,
    sends_email: bool | None = None,
    audience_list_ref: str | None = None,
) -> Campaign:
    """Without ``sends_email`` (a listing reads no assets) both it and the audience are
    unknown, and the campaign says so rather than "sends no email"."""
    props = data.get("properties") or {}
    status = props.get("hs_campaign_status")
    return Campaign(
        ref=make_ref(VENDOR, "campaign", str(data["id"])),
        name=str(props.get("hs_name") or ""),
        kind="marketing_campaign",
        status=status,
        active=None if status is None else status in ACTIVE_CAMPAIGN_STATUSES,
        sends_email=sends_email,
        audience_list_ref=audience_list_ref,
        audience_known=sends_email is not None,
        status_ladder=[],
        member_count=member_count,
    )


def to_owner(data: dict[str, Any]) -> Owner:
    name = f"{data.get('firstName') or ''} {data.get('lastName') or ''}".strip()
    return Owner(
        ref=make_ref(VENDOR, "owner", str(data["id"])),
        name=name or str(data["id"]),
        email=data.get("email"),
        active=not data.get("archived", False),
    )


def event_type(event: dict[str, Any]) -> ActivityType:
    kind = str(event.get("type"))
    if kind == "STATUSCHANGE":
        subs = event.get("subscriptions") or []
        unsubscribed = any(isinstance(s, dict) and s.get("status") == "UNSUBSCRIBED" for s in subs)
        return "unsubscribed" if unsubscribed else "other"
    return _EVENT_TYPES.get(kind, "other")


def to_activity(event: dict[str, Any], person_ref: str, campaign_ref: str | None) -> Activity:
    attributes = {
        k: v
        for k, v in event.items()
        if k in ("emailCampaignId", "recipient", "subscriptions", "source")
    }
    return Activity(
        ref=make_ref(VENDOR, "email_event", str(event.get("id"))),
        person_ref=person_ref,
        type=event_type(event),
        vendor_type=str(event.get("type")),
        occurred_at=datetime.fromtimestamp(int(event.get("created", 0)) / 1000, UTC),
        campaign_ref=campaign_ref,
        attributes=attributes,
    )

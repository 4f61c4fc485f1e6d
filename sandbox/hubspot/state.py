"""In-memory HubSpot portal built from the shared seed.

Everything is keyed by native id in dicts so that batch endpoints cost O(batch) even with
10,000 contacts; property values are stored the way HubSpot returns them: strings, or None
when unset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mopsgate.connectors.schema import HUBSPOT_CONTACT, FieldSpec
from mopsgate.sandbox.hubspot import ids
from mopsgate.sandbox.seed import SeedData, SeedPerson

Props = dict[str, str | None]


def iso(when: datetime) -> str:
    """HubSpot datetimes: ISO-8601 UTC with milliseconds and a ``Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return iso(datetime.now(UTC))


def to_prop(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class Contact:
    id: str
    props: Props
    created_at: str
    updated_at: str


@dataclass
class PortalList:
    id: str
    name: str
    processing_type: str  # MANUAL | DYNAMIC | SNAPSHOT
    members: dict[str, str]  # contact id -> membership timestamp
    created_at: str
    updated_at: str
    version: int = 1


@dataclass
class PortalCampaign:
    guid: str
    name: str
    status: str
    start_date: str
    notes: str
    members: dict[str, str]  # contact id -> report contact type
    email_id: str | None
    email_campaign_id: str | None
    list_id: str | None
    created_at: str


@dataclass
class PortalOwner:
    id: str
    email: str
    first_name: str
    last_name: str
    archived: bool


@dataclass
class EmailEvent:
    id: str
    created_ms: int
    type: str
    recipient: str
    email_campaign_id: str | None
    extra: dict[str, Any] = field(default_factory=dict)


# seed activity type -> legacy email event type (form fills and page views are not email
# events; the emulator keeps them only in ``other_activities``).
EVENT_TYPES = {
    "email_sent": "SENT",
    "email_delivered": "DELIVERED",
    "email_opened": "OPEN",
    "email_clicked": "CLICK",
    "email_bounced": "BOUNCE",
    "unsubscribed": "STATUSCHANGE",
}


def seed_props(p: SeedPerson, owner_native: str) -> Props:
    return {
        "hs_object_id": ids.person_id(p.idx),
        "email": p.email,
        "firstname": p.first_name,
        "lastname": p.last_name,
        "company": p.company,
        "jobtitle": p.title,
        "phone": p.phone,
        "country": p.country,
        "city": p.city,
        "address": p.street,
        "lifecyclestage": ids.lifecycle_to_hubspot(p.lifecycle_stage),
        "hs_lead_status": ids.lead_status_to_hubspot(p.lead_status),
        "hubspotscore": str(p.score),
        "hubspot_owner_id": owner_native,
        "hs_email_optout": to_prop(p.email_opt_out),
        "hs_email_bad_address": to_prop(p.suppressed),
        "hs_email_quarantined": "false",
        "hs_legal_basis": p.legal_basis,
        "message": p.notes or None,
        "hs_analytics_source": p.lead_source,
        "createdate": iso(p.created_at),
        "lastmodifieddate": iso(p.updated_at),
    }


class PortalState:
    def __init__(self, seed: SeedData) -> None:
        self.specs: dict[str, FieldSpec] = {s.name: s for s in HUBSPOT_CONTACT}
        self.contacts: dict[str, Contact] = {}
        self.archived: dict[str, Contact] = {}
        self.by_email: dict[str, set[str]] = {}
        for p in seed.people:
            props = seed_props(p, ids.owner_id(p.owner_idx))
            self._add_contact(
                Contact(
                    ids.person_id(p.idx),
                    props,
                    props["createdate"] or "",
                    props["lastmodifieddate"] or "",
                )
            )
        self.owners = {
            ids.owner_id(o.idx): _owner(o.idx, o.name, o.email, o.active) for o in seed.owners
        }
        self.lists = _seed_lists(seed)
        self.campaigns = _seed_campaigns(seed)
        self.events: list[EmailEvent] = []
        self.other_activities: list[dict[str, Any]] = []
        self._seed_events(seed)
        self.write_log: list[dict[str, Any]] = []
        self.scheduled: list[dict[str, Any]] = []  # HubSpot has no schedule/trigger API:
        self.triggered: list[dict[str, Any]] = []  # these stay empty (kept for parity).

    def _add_contact(self, contact: Contact) -> None:
        self.contacts[contact.id] = contact
        email = (contact.props.get("email") or "").strip().lower()
        if email:
            self.by_email.setdefault(email, set()).add(contact.id)

    def _seed_events(self, seed: SeedData) -> None:
        for a in seed.activities:
            person = seed.people[a.person_idx]
            ecid = (
                ids.email_campaign_id(a.campaign_idx)
                if a.campaign_idx is not None and seed.campaigns[a.campaign_idx].sends_email
                else None
            )
            ms = int(a.occurred_at.timestamp() * 1000)
            if a.type in EVENT_TYPES:
                extra: dict[str, Any] = {}
                if a.type == "unsubscribed":
                    extra = {"subscriptions": [{"id": "1", "status": "UNSUBSCRIBED"}]}
                self.events.append(
                    EmailEvent(
                        ids.email_event_id(a.idx),
                        ms,
                        EVENT_TYPES[a.type],
                        person.email,
                        ecid,
                        extra,
                    )
                )
            else:
                self.other_activities.append(
                    {
                        "id": ids.email_event_id(a.idx),
                        "contactId": ids.person_id(a.person_idx),
                        "type": a.type,
                        "occurredAt": iso(a.occurred_at),
                    }
                )
        self.events.sort(key=lambda e: (e.created_ms, e.id))

    # writes -------------------------------------------------------------------------------
    def set_props(self, contact: Contact, props: Props) -> dict[str, tuple[str | None, str | None]]:
        changed: dict[str, tuple[str | None, str | None]] = {}
        for name, value in props.items():
            old = contact.props.get(name)
            new = value if value != "" else None
            if old != new:
                changed[name] = (old, new)
                contact.props[name] = new
        if "email" in changed:
            old_email = (changed["email"][0] or "").strip().lower()
            self.by_email.get(old_email, set()).discard(contact.id)
            self._add_contact(contact)
        if changed:
            contact.updated_at = now_iso()
            contact.props["lastmodifieddate"] = contact.updated_at
            self.log(
                "field_changed",
                contact.id,
                {"changes": {k: {"from": old, "to": new} for k, (old, new) in changed.items()}},
            )
        return changed

    def archive(self, contact_id: str) -> None:
        contact = self.contacts.pop(contact_id)
        self.archived[contact_id] = contact
        self.by_email.get((contact.props.get("email") or "").strip().lower(), set()).discard(
            contact_id
        )
        for lst in self.lists.values():
            lst.members.pop(contact_id, None)
        self.log("deleted", contact_id, {})

    def unsubscribe_all(self, email: str) -> list[str]:
        """Opt the address out of all email; every contact sharing it follows (HubSpot keys
        subscription status by address, not by record)."""
        touched = sorted(self.by_email.get(email.strip().lower(), set()), key=int)
        for cid in touched:
            contact = self.contacts[cid]
            if contact.props.get("hs_email_optout") != "true":
                self.set_props(contact, {"hs_email_optout": "true"})
        if touched:
            ms = int(datetime.now(UTC).timestamp() * 1000)
            self.events.append(
                EmailEvent(
                    f"statuschange-{len(self.events)}",
                    ms,
                    "STATUSCHANGE",
                    email,
                    None,
                    {
                        "subscriptions": [{"id": "all", "status": "UNSUBSCRIBED"}],
                        "source": "SOURCE_API",
                    },
                )
            )
            for cid in touched:
                self.log("unsubscribed", cid, {"email": email})
        return touched

    def log(self, kind: str, contact_id: str, detail: dict[str, Any]) -> None:
        self.write_log.append({"type": kind, "contactId": contact_id, "at": now_iso(), **detail})


def _owner(idx: int, name: str, email: str, active: bool) -> PortalOwner:
    first, _, last = name.partition(" ")
    return PortalOwner(ids.owner_id(idx), email, first, last, not active)


def _seed_lists(seed: SeedData) -> dict[str, PortalList]:
    when = iso(seed.people[0].created_at) if seed.people else now_iso()
    return {
        ids.list_id(sl.idx): PortalList(
            ids.list_id(sl.idx),
            sl.name,
            "MANUAL" if sl.kind == "static" else "DYNAMIC",
            {ids.person_id(m): when for m in sl.members},
            when,
            when,
        )
        for sl in seed.lists
    }


def _seed_campaigns(seed: SeedData) -> dict[str, PortalCampaign]:
    return {
        ids.campaign_id(c.idx): PortalCampaign(
            ids.campaign_id(c.idx),
            c.name,
            "in_progress" if c.active else "completed",
            "2026-01-05",
            f"channel: {c.channel}",
            {ids.person_id(pi): ids.contact_type_for_status(st) for pi, st in c.members},
            ids.email_id(c.idx) if c.sends_email else None,
            ids.email_campaign_id(c.idx) if c.sends_email else None,
            ids.list_id(c.audience_list) if c.audience_list is not None else None,
            "2025-11-03T09:00:00.000Z",
        )
        for c in seed.campaigns
    }

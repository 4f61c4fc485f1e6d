"""The HubSpot portal the emulator starts from, built deterministically from ``seed_data``.

Every seed person becomes a contact (properties by schema role, as HubSpot strings), lists keep
their kind (static → MANUAL, dynamic → DYNAMIC), each seed campaign member is filed under one
campaign report type, and email activities become legacy email events. Ids follow
``sandbox.hubspot.ids``.
"""

from __future__ import annotations

from typing import Any

from mopsgate.sandbox.hubspot import ids
from mopsgate.sandbox.hubspot.state import (
    Company,
    Contact,
    EmailEvent,
    PortalCampaign,
    PortalList,
    PortalOwner,
    PortalState,
    Props,
    iso,
    now_iso,
    to_prop,
)
from mopsgate.sandbox.seed import SeedData, SeedPerson

# seed activity type -> legacy email event type (form fills and page views are not email
# events, and are not served).
EVENT_TYPES = {
    "email_sent": "SENT",
    "email_delivered": "DELIVERED",
    "email_opened": "OPEN",
    "email_clicked": "CLICK",
    "email_bounced": "BOUNCE",
    "unsubscribed": "STATUSCHANGE",
}


def load(state: PortalState, seed: SeedData) -> None:
    """Fill an empty portal from the seed."""
    for p in seed.people:
        p = seed.held_by(ids.VENDOR, p)
        props = seed_props(p, ids.owner_id(p.owner_idx))
        created, modified = props["createdate"] or "", props["lastmodifieddate"] or ""
        state.add_contact(Contact(ids.person_id(p.idx), props, created, modified))
    for company, members in _seed_companies(seed):
        state.add_company(company)
        for idx in members:
            state.link(ids.person_id(idx), company.id, primary=True)
    for o in seed.owners:
        state.add_owner(_owner(o.idx, o.name, o.email, o.active))
    for lst in _seed_lists(seed).values():
        state.add_list(lst)
    for campaign in _seed_campaigns(seed).values():
        state.add_campaign(campaign)
    for event in sorted(_seed_events(seed), key=lambda e: (e.created_ms, e.id)):
        state.add_event(event)


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
        "consent_evidence": p.consent_evidence,
        "message": p.notes or None,
        "hs_analytics_source": p.lead_source,
        "createdate": iso(p.created_at),
        "lastmodifieddate": iso(p.updated_at),
    }


def _seed_events(seed: SeedData) -> list[EmailEvent]:
    out: list[EmailEvent] = []
    for a in seed.activities:
        if a.type not in EVENT_TYPES:
            continue
        ecid = (
            ids.email_campaign_id(a.campaign_idx)
            if a.campaign_idx is not None and seed.campaigns[a.campaign_idx].sends_email
            else None
        )
        extra: dict[str, Any] = {}
        if a.type == "unsubscribed":
            extra = {"subscriptions": [{"id": "1", "status": "UNSUBSCRIBED"}]}
        ms = int(a.occurred_at.timestamp() * 1000)
        email = seed.people[a.person_idx].email
        out.append(
            EmailEvent(ids.email_event_id(a.idx), ms, EVENT_TYPES[a.type], email, ecid, extra)
        )
    return out


def _seed_companies(seed: SeedData) -> list[tuple[Company, list[int]]]:
    """One company per company name among the people (numbered by first appearance), each
    person associated with it as their primary company."""
    people: dict[str, list[int]] = {}
    for p in seed.people:
        people.setdefault(p.company, []).append(p.idx)
    when = iso(seed.people[0].created_at) if seed.people else now_iso()
    out = []
    for n, (name, members) in enumerate(people.items()):
        cid = ids.company_id(n)
        domain = "".join(ch for ch in name.lower() if ch.isalnum()) + ".test"
        props: Props = {
            "hs_object_id": cid,
            "name": name,
            "domain": domain,
            "createdate": when,
            "hs_lastmodifieddate": when,
        }
        out.append((Company(cid, props, when, when), members))
    return out


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

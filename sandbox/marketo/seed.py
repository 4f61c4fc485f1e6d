"""Builds the Marketo emulator's in-memory world from the shared seed.

Every seed person, list, campaign, membership, activity and owner is mapped into Marketo's own
shape here, field values chosen by the roles in ``connectors.schema`` so the emulator, the
client and other vendors' emulators agree on what each person looks like.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mopsgate.connectors.schema import MARKETO_LEAD
from mopsgate.sandbox.marketo import ids
from mopsgate.sandbox.seed import EPOCH, SeedData, SeedPerson

Ladder = tuple[tuple[str, int, bool], ...]


def iso_z(when: datetime) -> str:
    """Lead-database timestamp shape: ``2024-03-05T14:22:10Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_asset(when: datetime) -> str:
    """Asset-API timestamp shape: ``2017-07-27T01:38:33Z+0000``."""
    return iso_z(when) + "+0000"


@dataclass
class StaticList:
    id: int
    name: str
    description: str
    created_at: datetime
    members: dict[int, str] = field(default_factory=dict)  # lead id -> added at (iso)


@dataclass
class SmartList:
    id: int
    name: str
    description: str
    created_at: datetime
    rule_field: str
    rule_value: str


@dataclass
class Member:
    status: str
    reached_success: bool
    membership_date: str
    updated_at: str


@dataclass
class Program:
    id: int
    name: str
    type: str
    channel: str
    status: str
    created_at: datetime
    members: dict[int, Member] = field(default_factory=dict)


@dataclass
class SmartCampaign:
    id: int
    name: str
    type: str
    is_active: bool
    is_requestable: bool
    program_id: int
    audience_list_name: str | None
    created_at: datetime


@dataclass
class World:
    leads: dict[int, dict[str, Any]]
    static_lists: dict[int, StaticList]
    smart_lists: dict[int, SmartList]
    programs: dict[int, Program]
    channels: dict[str, Ladder]
    smart_campaigns: dict[int, SmartCampaign]
    activities: list[dict[str, Any]]
    sales_persons: dict[int, dict[str, Any]]


def lead_record(p: SeedPerson) -> dict[str, Any]:
    """One seed person as a Marketo lead, every schema field filled by its role."""
    by_role: dict[str, Any] = {
        "id": ids.lead_id(p.idx),
        "email": p.email,
        "first_name": p.first_name,
        "last_name": p.last_name,
        "company": p.company,
        "title": p.title,
        "phone": p.phone,
        "country": p.country,
        "city": p.city,
        "street": p.street,
        "lifecycle_stage": p.lifecycle_stage,
        "lead_status": p.lead_status,
        "score": p.score,
        "owner_id": ids.owner_field_value(p.owner_idx),
        "email_opt_out": p.email_opt_out,
        "do_not_call": p.do_not_call,
        "suppressed": p.suppressed,
        "legal_basis": p.legal_basis,
        "notes": p.notes or None,
        "lead_source": p.lead_source,
        "created_at": iso_z(p.created_at),
        "updated_at": iso_z(p.updated_at),
    }
    record = {spec.name: by_role.get(spec.role) for spec in MARKETO_LEAD}
    record["emailInvalid"] = False  # role "none": no seed counterpart
    return record


def _lists(seed: SeedData) -> tuple[dict[int, StaticList], dict[int, SmartList]]:
    static: dict[int, StaticList] = {}
    smart: dict[int, SmartList] = {}
    for lst in seed.lists:
        lid = ids.list_id(lst.idx)
        created = EPOCH + timedelta(days=30 * lst.idx)
        if lst.kind == "dynamic":
            smart[lid] = SmartList(
                lid, lst.name, lst.description, created, "mktoLifecycleStage", "mql"
            )
            continue
        added = iso_z(created)
        static[lid] = StaticList(
            lid, lst.name, lst.description, created, {ids.lead_id(i): added for i in lst.members}
        )
    return static, smart


def _campaigns(
    seed: SeedData,
) -> tuple[dict[int, Program], dict[str, Ladder], dict[int, SmartCampaign]]:
    programs: dict[int, Program] = {}
    channels: dict[str, Ladder] = {}
    smart: dict[int, SmartCampaign] = {}
    for camp in seed.campaigns:
        ptype, channel = ids.PROGRAM_CHANNELS[camp.channel]
        channels[channel] = camp.ladder
        created = EPOCH + timedelta(days=60 + 20 * camp.idx)
        status = ("on" if camp.active else "off") if ptype == "Engagement" else ""
        success = {name for name, _step, ok in camp.ladder if ok}
        since = iso_z(created + timedelta(days=1))
        members = {
            ids.lead_id(p): Member(st, st in success, since, since) for p, st in camp.members
        }
        pid = ids.program_id(camp.idx)
        programs[pid] = Program(pid, camp.name, ptype, channel, status, created, members)
        audience = seed.lists[camp.audience_list].name if camp.audience_list is not None else None
        sid = ids.smart_campaign_id(camp.idx)
        smart[sid] = SmartCampaign(
            sid,
            f"{camp.name} - Send",
            ids.smart_campaign_type(camp),
            camp.active,
            camp.triggerable,
            pid,
            audience,
            created,
        )
    return programs, channels, smart


def _activities(seed: SeedData) -> list[dict[str, Any]]:
    ordered = sorted(seed.activities, key=lambda a: (a.occurred_at, a.idx))
    out: list[dict[str, Any]] = []
    for act in ordered:
        aid = ids.activity_id(act.idx)
        item: dict[str, Any] = {
            "id": aid,
            "marketoGUID": str(aid),
            "leadId": ids.lead_id(act.person_idx),
            "activityDate": iso_z(act.occurred_at),
            "activityTypeId": ids.activity_type_id(act.type),
            "attributes": [],
        }
        if act.campaign_idx is not None:
            camp = seed.campaigns[act.campaign_idx]
            item["campaignId"] = ids.smart_campaign_id(act.campaign_idx)
            item["primaryAttributeValueId"] = 5001 + act.campaign_idx
            item["primaryAttributeValue"] = f"{camp.name} Email"
        out.append(item)
    return out


def _sales_persons(seed: SeedData) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    for owner in seed.owners:
        first, _, last = owner.name.partition(" ")
        oid = ids.owner_id(owner.idx)
        out[oid] = {
            "id": oid,
            "externalSalesPersonId": ids.owner_field_value(owner.idx),
            "email": owner.email,
            "firstName": first,
            "lastName": last,
            "isActive": owner.active,  # emulator-only: Marketo has no such flag
            "createdAt": iso_z(EPOCH),
            "updatedAt": iso_z(EPOCH),
        }
    return out


def build_world(seed: SeedData) -> World:
    static, smart = _lists(seed)
    programs, channels, campaigns = _campaigns(seed)
    leads = {ids.lead_id(p.idx): lead_record(p) for p in seed.people}
    return World(
        leads, static, smart, programs, channels, campaigns, _activities(seed), _sales_persons(seed)
    )

"""The Marketo instance the emulator starts from, built deterministically from ``seed_data``.

Every seed person, list, campaign, membership, activity and owner is mapped into Marketo's own
shape here, field values chosen by the roles in ``connectors.schema`` so the emulator, the
client and other vendors' emulators agree on what each person looks like. Ids follow
``sandbox.marketo.ids``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mopsgate.connectors.schema import MARKETO_LEAD
from mopsgate.sandbox.marketo import ids
from mopsgate.sandbox.marketo.state import (
    InstanceState,
    Ladder,
    Member,
    Program,
    SmartCampaign,
    SmartList,
    StaticList,
)
from mopsgate.sandbox.marketo.wire import iso_z
from mopsgate.sandbox.seed import EPOCH, SeedData, SeedPerson


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
        "consent_evidence": p.consent_evidence,
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


def load(state: InstanceState, seed: SeedData) -> None:
    """Fill an empty instance from the seed."""
    for p in seed.people:
        state.add_lead(lead_record(seed.held_by(ids.VENDOR, p)))
    static, smart = _lists(seed)
    for lst in static.values():
        state.add_static_list(lst)
    for sl in smart.values():
        state.add_smart_list(sl)
    programs, channels, campaigns = _campaigns(seed)
    for name, ladder in channels.items():
        state.add_channel(name, ladder)
    for prog in programs.values():
        state.add_program(prog)
    for camp in campaigns.values():
        state.save_smart_campaign(camp)
    for act in _activities(seed):
        state.add_activity(act)
    for person in _sales_persons(seed).values():
        state.add_sales_person(person)

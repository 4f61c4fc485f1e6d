"""Drift: what moved since a change was planned, re-read record by record and field by field
just before it is applied. Apply refuses a change as stale when this finds anything, so nothing
is ever written over a value the reviewers did not see (consent re-checked included)."""

from __future__ import annotations

from contextlib import nullcontext

from mopsgate.crm.connector import Connector
from mopsgate.governance import planning as pl
from mopsgate.governance.change_model import Change
from mopsgate.governance.consent_floor import (
    Block,
    express_consent,
    floor_blocks,
    reading_consent,
)
from mopsgate.governance.errors import FloorViolation
from mopsgate.governance.list_archive import list_drift
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.owner_targets import inactive_owners
from mopsgate.governance.progress import Steps


async def find_drift(
    client: Connector, change: Change, manifest: Manifest, steps: Steps | None = None
) -> list[str]:
    """What moved since the plan, record by record and field by field. ``manifest`` is the one
    the plan was made under (apply has checked its digest). ``steps`` hears of every batch
    re-read."""
    plan = change.plan
    records = plan.effective_records
    if plan.operation == "schedule_campaign":
        return await _audience_drift(client, change, manifest)
    if plan.operation == "archive_list":
        return await list_drift(client, plan)
    sending = plan.operation in ("trigger_campaign", "add_to_list")
    with reading_consent(client.name, f"{len(records)} people") if sending else nullcontext():
        people = await pl.read_people(
            client, [r.ref for r in records], steps, "re-reading before the apply"
        )
    members = (
        await pl.list_member_refs(client, str(plan.target))
        if plan.operation in ("add_to_list", "remove_from_list")
        else None
    )
    statuses = (
        await pl.campaign_statuses(client, str(plan.target))
        if plan.operation == "set_campaign_status"
        else None
    )
    blocks: dict[str, Block] = {}  # who the floor now blocks from this send
    if plan.operation == "trigger_campaign":
        blocks = await floor_blocks(client, people.values(), express_consent(manifest, client.name))
    elif plan.operation == "add_to_list":
        _, blocks = await pl.send_list_floor(client, manifest, str(plan.target), people.values())
    out: list[str] = []
    for rec in records:
        person = people.get(rec.ref)
        if person is None:
            out.append(f"{rec.ref} no longer exists")
            continue
        for field, before in rec.before.items():
            now_value = (
                rec.ref in members
                if field == pl.MEMBER and members is not None
                else statuses.get(rec.ref)
                if field == pl.STATUS and statuses is not None
                else person.fields.get(field)
            )
            if now_value != before:
                out.append(f"{rec.ref} {field} was {before!r} at plan time, is now {now_value!r}")
        if why := blocks.get(rec.ref):
            out.append(f"{rec.ref} is now {why[1]} (consent re-checked at apply)")
    if plan.operation == "update_fields":
        out += await inactive_owners(client, change, manifest)
    return out


async def _audience_drift(client: Connector, change: Change, manifest: Manifest) -> list[str]:
    campaign = await client.get_campaign(str(change.plan.target))
    try:
        with reading_consent(client.name, f"the audience of {campaign.name!r}"):
            people = await pl.schedule_audience(client, campaign)
    except FloorViolation as exc:
        return [exc.message.rstrip(".")]
    blocks = await floor_blocks(client, people.values(), express_consent(manifest, client.name))
    return [
        f"{ref} in the audience is now {why[1]} (consent re-checked at apply)"
        for ref, why in sorted(blocks.items())
    ]

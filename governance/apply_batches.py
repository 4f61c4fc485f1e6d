"""One batch of a plan, written through the vendor's batch endpoint for its operation, and
what a written record now holds (its after-image, kept for a revert and for recovery)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import JsonValue

from mopsgate.crm.connector import Connector
from mopsgate.crm.records import PersonUpdate, RecordResult
from mopsgate.governance.change_model import Change, PlannedRecord


def after_image(rec: PlannedRecord) -> dict[str, JsonValue]:
    if rec.changes:
        return {c.field: c.after for c in rec.changes}
    return {rec.action: True}


async def send_batch(
    client: Connector, change: Change, batch: Sequence[PlannedRecord]
) -> list[RecordResult]:
    plan = change.plan
    refs = [r.ref for r in batch]
    op = plan.operation
    if op == "update_fields":
        return await client.update_people(
            [PersonUpdate(ref=r.ref, fields={c.field: c.after for c in r.changes}) for r in batch]
        )
    if op == "add_to_list":
        return await client.add_to_list(str(plan.target), refs)
    if op == "remove_from_list":
        return await client.remove_from_list(str(plan.target), refs)
    if op == "set_campaign_status":
        return await client.set_campaign_status(str(plan.target), refs, str(plan.params["status"]))
    if op == "trigger_campaign":
        return await client.trigger_campaign(
            str(plan.target), refs, dict(plan.params.get("tokens") or {})
        )
    if op == "schedule_campaign":
        run_at = datetime.fromisoformat(str(plan.params["run_at"]))
        return [
            await client.schedule_campaign(
                str(plan.target), run_at, dict(plan.params.get("tokens") or {})
            )
        ]
    if op == "opt_out":
        return await client.opt_out(refs)
    if op == "archive_list":
        return [await client.archive_list(str(plan.target))]
    if op == "merge_people":  # the whole plan is one batch: a survivor and at most 3 losers
        survivor = next(r for r in batch if r.action == "merge")
        losers = [r.ref for r in batch if r.action == "merged_away"]
        fields: dict[str, object] = {c.field: c.after for c in survivor.changes}
        return await client.merge_people(survivor.ref, losers, fields)
    return await client.delete_people(refs)

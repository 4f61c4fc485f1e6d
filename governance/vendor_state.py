"""Whether the vendor now holds what a plan meant to write, read back record by record.

What settles an apply whose outcome is unknown: a batch call that failed or timed out after it
may have reached the vendor (``applying``), and a batch a dead process left in flight
(``recovering``, at start-up). A campaign trigger or schedule leaves no state to re-read, so
its outcome stays unknown: guessing either way could email someone twice or never.
"""

from __future__ import annotations

from collections.abc import Sequence

from mopsgate.crm.connector import Connector
from mopsgate.governance import planning as pl
from mopsgate.governance.change_model import Change, PlannedRecord

UNVERIFIABLE = frozenset({"trigger_campaign", "schedule_campaign"})


async def written_now(
    client: Connector, change: Change, records: Sequence[PlannedRecord]
) -> dict[str, bool]:
    """For each record, whether the vendor now holds the plan's after-image."""
    plan = change.plan
    refs = [r.ref for r in records]
    op = plan.operation
    if op in ("add_to_list", "remove_from_list"):
        members = await pl.list_member_refs(client, str(plan.target))
        return {ref: (ref in members) == (op == "add_to_list") for ref in refs}
    if op == "set_campaign_status":
        statuses = await pl.campaign_statuses(client, str(plan.target))
        return {ref: statuses.get(ref) == plan.params.get("status") for ref in refs}
    people = await pl.read_people(client, refs)
    if op == "delete_person":
        return {ref: ref not in people for ref in refs}
    if op == "opt_out":
        return {ref: ref in people and people[ref].consent.email_opt_out is True for ref in refs}
    return {
        r.ref: r.ref in people
        and all(holds(people[r.ref].fields.get(c.field), c.after) for c in r.changes)
        for r in records
    }


def holds(current: object, planned: object) -> bool:
    """Whether a vendor value is the planned one, allowing for how vendors echo values back
    (HubSpot stores every property as text: True comes back as "true", 5 as "5")."""
    if current == planned:
        return True
    if planned in (None, "") or current in (None, ""):
        return planned in (None, "") and current in (None, "")
    if isinstance(planned, bool):
        return str(current).lower() == str(planned).lower()
    if isinstance(planned, int | float):
        if not isinstance(current, str | int | float):
            return False
        try:
            return float(current) == float(planned)
        except ValueError:
            return False
    return False

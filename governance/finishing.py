"""The rest of a change that failed part-way, as a new proposal.

A failed change is never applied again (its token is spent, its approvals were for the whole
plan). What it did not write is proposed afresh: the same operation on exactly the records
without a successful result, planned against live data — so anything the vendor holds already
shows as a no-op — reviewed and applied like any change. Built like a revert, from the
change's own record.
"""

from __future__ import annotations

from mopsgate.governance import planning as pl
from mopsgate.governance.change_model import Change, ChangeStatus, PlannedRecord
from mopsgate.governance.errors import ChangeRefused
from mopsgate.governance.reverting import refuse_second

# A send whose outcome is unknown may have gone out: it is never repeated blind.
SENDS = frozenset({"trigger_campaign", "schedule_campaign"})
UNCERTAIN = frozenset({"unconfirmed", "no_result"})


def finish_input(original: Change, previous: Change | None = None) -> pl.PlanInput:
    """``previous`` is the change named by ``original.finished_by``, if any."""
    if original.status is not ChangeStatus.FAILED:
        raise ChangeRefused(
            f"{original.id} is {original.status}; only a change that failed part-way has "
            "records left to finish.",
            hint="get_change shows its outcome.",
        )
    refuse_second(original, original.finished_by, previous, "is already being finished by")
    rows = {r.ref: r for r in original.outcome.records}
    remaining = [
        r for r in original.plan.effective_records if not (r.ref in rows and rows[r.ref].ok)
    ]
    op = original.plan.operation
    if op in SENDS:
        uncertain = [r.ref for r in remaining if r.ref not in rows or rows[r.ref].code in UNCERTAIN]
        if uncertain:
            raise ChangeRefused(
                f"{len(uncertain)} record(s) of {original.id} may or may not have been sent "
                f"(e.g. {uncertain[0]}); a send is never repeated blind.",
                hint="Check the campaign's activity in the vendor, then propose a new send for "
                "the people who did not get it.",
            )
    if not remaining:
        raise ChangeRefused(f"every record of {original.id} was written; nothing is left.")
    return _input(original, remaining)


def _input(original: Change, records: list[PlannedRecord]) -> pl.PlanInput:
    plan = original.plan
    if plan.operation == "update_fields":
        updates = {r.ref: {c.field: c.after for c in r.changes} for r in records}
        return pl.PlanInput(operation="update_fields", connector=plan.connector, updates=updates)
    return pl.PlanInput(
        operation=plan.operation,
        connector=plan.connector,
        refs=[] if plan.operation == "schedule_campaign" else [r.ref for r in records],
        target=plan.target,
        params=dict(plan.params),
    )

"""The inverse of an applied change, built from its before-images.

A revert is an ordinary proposal: it is planned against live data, reviewed and applied with
the same rules. Some changes have no inverse mopsgate may offer, and say why: an opt-out (the
floor forbids re-subscribing), a send (an email cannot be unsent), a delete.
"""

from __future__ import annotations

from mopsgate.governance import planning as pl
from mopsgate.governance.change_model import Change, ChangeStatus
from mopsgate.governance.errors import ChangeRefused, FloorViolation, NotSupported
from mopsgate.governance.list_archive import REVERT_BY_HAND
from mopsgate.governance.merging import REVERT_IMPOSSIBLE

IRREVERSIBLE = {
    "trigger_campaign": "the campaign already ran; an email cannot be unsent",
    "schedule_campaign": "unscheduling is done in the vendor's UI by a human",
    "delete_person": "deleted records cannot be restored through the API",
    "merge_people": REVERT_IMPOSSIBLE,
    "archive_list": REVERT_BY_HAND,
    "set_campaign_status": "campaign member statuses keep their history in the vendor, and "
    "some ladders only move forward; ask a human to correct statuses",
}


# A revert that ended in one of these wrote nothing, so the original may be reverted afresh.
ENDED_UNWRITTEN = frozenset(
    {ChangeStatus.REJECTED, ChangeStatus.EXPIRED, ChangeStatus.CANCELLED, ChangeStatus.STALE}
)


def refuse_second(
    original: Change, follow_up: str | None, previous: Change | None, what: str
) -> None:
    """One live follow-up (revert, finish) per change; one that ended without writing
    (``previous``, the change ``follow_up`` names) leaves room for another."""
    if follow_up and (previous is None or previous.status not in ENDED_UNWRITTEN):
        raise ChangeRefused(
            f"{original.id} {what}: {follow_up}.", hint="Use get_change on that change."
        )


def revert_input(
    original: Change, written: set[str], previous: Change | None = None
) -> pl.PlanInput:
    """``previous`` is the change named by ``original.reverted_by``, if any."""
    if original.status not in (ChangeStatus.APPLIED, ChangeStatus.FAILED):
        raise ChangeRefused(
            f"{original.id} is {original.status}; only an applied (or "
            "partly applied) change can be reverted.",
            hint="Cancel it instead if it was never applied.",
        )
    refuse_second(original, original.reverted_by, previous, "already has a revert")
    op = original.plan.operation
    if op == "opt_out":
        raise FloorViolation(
            "an opt-out cannot be reverted: re-subscribing someone is never "
            "possible through mopsgate.",
            rule_id="compliance-floor",
            hint="The person must opt in again themselves.",
        )
    if op in IRREVERSIBLE:
        raise NotSupported(
            f"{op} cannot be reverted: {IRREVERSIBLE[op]}.",
            hint="Handle the correction by hand in the vendor's UI.",
        )
    records = [r for r in original.plan.effective_records if r.ref in written]
    if not records:
        raise ChangeRefused(f"{original.id} wrote no records, so there is nothing to revert.")
    connector = original.plan.connector
    if op == "update_fields":
        updates = {r.ref: {c.field: c.before for c in r.changes} for r in records}
        return pl.PlanInput(operation="update_fields", connector=connector, updates=updates)
    inverse = "remove_from_list" if op == "add_to_list" else "add_to_list"
    return pl.PlanInput(
        operation=inverse,
        connector=connector,
        refs=[r.ref for r in records],
        target=original.plan.target,
    )

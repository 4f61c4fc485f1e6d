"""How a change is shown to the assistant: structured diff, readable text, what happens next.

Values of PII fields are masked here exactly as in reads, and the text diff is capped, so a
10,000-record proposal does not flood the model's context.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from mopsgate.governance.change_model import Change, ChangeStatus
from mopsgate.governance.diff_lines import render_text
from mopsgate.governance.pii import mask_value
from mopsgate.governance.policy import FieldAccess

MAX_RECORDS_SHOWN = 100
MAX_TEXT = 6000
MAX_OUTCOME_REFS = 1000  # per list; "counts" are always exact


# What a vendor field holds, and so what a diff shows before and after: a JSON scalar. Typed
# (not Any) so the published output schema gives every node a type for strict checkers.
FieldValue = str | int | float | bool | None


class FieldChangeOut(BaseModel):
    field: str
    before: FieldValue
    after: FieldValue


class RecordOut(BaseModel):
    ref: str
    action: str
    changes: list[FieldChangeOut]


class BlockedOut(BaseModel):
    ref: str
    reason_code: str
    reason: str


class ApprovalsOut(BaseModel):
    required: int
    roles: list[str]
    reason: str
    so_far: list[str]


class ChangeOut(BaseModel):
    change_id: str
    status: str
    risk_class: str
    connector: str
    operation: str
    target: str | None
    reason: str = Field(description="the requester's stated reason")
    records: list[RecordOut]
    records_total: int
    summary: dict[str, int]
    blocked: list[BlockedOut]
    approvals: ApprovalsOut
    expires_at: str
    diff_text: str
    outcome: dict[str, Any] | None = Field(
        None,
        description="after an apply: written / failed / not_attempted records, exact counts",
    )
    status_detail: str | None = None
    revert_of: str | None = None
    reverted_by: str | None = None
    finish_of: str | None = None
    finished_by: str | None = None


class ProposalOut(ChangeOut):
    confirmation_token: str = Field(description="pass to apply_change once approved; single use")
    applies_frozen: str | None = None
    next_steps: str


def _mask(field: str, value: Any, access: FieldAccess | None) -> Any:
    if (
        access is not None
        and field in access.pii_fields
        and not access.unmasked_pii
        and value is not None
    ):
        return mask_value(field, value, None)
    return value


def _outcome(change: Change) -> dict[str, Any]:
    """The per-record account of an apply: every record the plan would write is in exactly one
    of written, failed (refused by the vendor, or unconfirmed when a batch call failed) or
    not_attempted. "unaccounted" (outcome unknown) is only non-empty while applying or after a
    crash mid-write; a change refused before writing (stale) has no per-record rows at all."""
    rows = {r.ref: r for r in change.outcome.records}
    planned = [r.ref for r in change.plan.effective_records]
    written = [ref for ref in planned if ref in rows and rows[ref].ok]
    failed = [
        {"ref": r.ref, "code": r.code, "message": r.message}
        for r in change.outcome.records
        if not r.ok and r.code != "not_attempted"
    ]
    skipped = [r.ref for r in change.outcome.records if r.code == "not_attempted"]
    started = (
        bool(rows)
        or change.status is ChangeStatus.APPLYING
        or (change.outcome.detail or "").startswith("interrupted")
    )
    missing = [ref for ref in planned if ref not in rows] if started else []
    return {
        "written": len(written),
        "written_refs": written[:MAX_OUTCOME_REFS],
        "failed": failed[:MAX_OUTCOME_REFS],
        "not_attempted": skipped[:MAX_OUTCOME_REFS],
        "unaccounted": missing[:MAX_OUTCOME_REFS],
        "counts": {
            "planned": len(planned),
            "written": len(written),
            "failed": len(failed),
            "not_attempted": len(skipped),
            "unaccounted": len(missing),
        },
        "detail": change.outcome.detail,
    }


def change_out(change: Change, access: FieldAccess | None) -> ChangeOut:
    plan = change.plan
    records = [
        RecordOut(
            ref=r.ref,
            action=r.action,
            changes=[
                FieldChangeOut(
                    field=c.field,
                    before=_mask(c.field, c.before, access),
                    after=_mask(c.field, c.after, access),
                )
                for c in r.changes
            ],
        )
        for r in plan.records[:MAX_RECORDS_SHOWN]
    ]
    text = render_text(change)
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + f"\n… [diff truncated; {len(text) - MAX_TEXT} more characters]"
    outcome = _outcome(change) if change.outcome.records or change.outcome.detail else None
    return ChangeOut(
        change_id=change.id,
        status=str(change.status),
        risk_class=str(change.risk_class),
        connector=change.connector,
        operation=plan.operation,
        target=plan.target,
        reason=change.reason,
        records=records,
        records_total=len(plan.records),
        summary=plan.summary.model_dump(),
        blocked=[BlockedOut(**b.model_dump()) for b in plan.blocked[:MAX_RECORDS_SHOWN]],
        approvals=ApprovalsOut(
            required=change.approvals_required.count,
            roles=list(change.approvals_required.roles),
            reason=change.approvals_required.reason,
            so_far=[a.reviewer for a in change.approvals],
        ),
        expires_at=change.expires_at.isoformat(),
        diff_text=text,
        outcome=outcome,
        status_detail=change.status_detail,
        revert_of=change.revert_of,
        reverted_by=change.reverted_by,
        finish_of=change.finish_of,
        finished_by=change.finished_by,
    )

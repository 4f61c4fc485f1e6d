"""How a change is shown to the assistant: structured diff, readable text, what happens next.

Values of PII fields are masked here exactly as in reads, and the text diff is capped, so a
10,000-record proposal does not flood the model's context.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from mopsgate.governance import across
from mopsgate.governance.change_model import AppliedRecord, Change, ChangeStatus
from mopsgate.governance.diff_lines import render_text
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.pii import mask_value
from mopsgate.governance.policy import FieldAccess, reviewer_may_approve
from mopsgate.governance.reverting import IRREVERSIBLE
from mopsgate.tools.spec import ToolContext

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
    required: int = Field(description="distinct human reviewers who must approve")
    roles: list[str] = Field(
        description="roles at least one of the approvers must hold; [] means any reviewer "
        "named in who_can_approve will do"
    )
    who_can_approve: list[str] = Field(
        default_factory=list,
        description="the reviewers the manifest lets approve this change's risk class, as "
        "'name (roles)'; empty means nobody can until the manifest owner adds one",
    )
    reason: str
    so_far: list[str]


PARTIAL = "partially_applied"
LOST_CONFIRMATION = (
    "The confirmation token is shown once, in the proposal; get_change and list_my_changes "
    "never return it. If it is lost, cancel_change this change and propose it again."
)


class ChangeOut(BaseModel):
    change_id: str
    status: str = Field(
        description="proposed | approved | rejected | expired | cancelled | applying | applied "
        "| partially_applied (some records written, the rest failed: see outcome) | failed "
        "(nothing written) | stale"
    )
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
        description="after an apply: written / failed / not_attempted records, exact counts "
        "(for a change across connectors also by_connector, each connector's own account)",
    )
    status_detail: str | None = None
    revert_of: str | None = None
    reverted_by: str | None = None
    finish_of: str | None = None
    finished_by: str | None = None
    next_steps: str | None = Field(None, description="what you can do with this change now")
    revert: str = Field(
        "", description="whether this change can be reverted once applied, and if not, why"
    )


class ProposalOut(ChangeOut):
    confirmation_token: str = Field(
        description="pass to apply_change once approved; single use. Shown only here: "
        "get_change cannot return it, and a lost token means proposing again"
    )
    applies_frozen: str | None = None
    review_url: str = Field(description="where human reviewers see and decide on this change")
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
        **({"by_connector": _by_connector(change, rows)} if across.is_across(change.plan) else {}),
    }


def revert_note(change: Change) -> str:
    why = IRREVERSIBLE.get(change.plan.operation)
    if why:
        return f"not possible: {why}"
    return "possible once applied: propose_revert builds the inverse, reviewed like any change"


def shown_status(change: Change) -> str:
    """The status as the assistant is told it: a failed apply that wrote some records is
    "partially_applied" (the store keeps "failed", so it is never re-applied), because "failed"
    alone reads as "nothing happened" and invites doing it all again."""
    if change.status is ChangeStatus.FAILED and any(r.ok for r in change.outcome.records):
        return PARTIAL
    return str(change.status)


def who_can_approve(change: Change, manifest: Manifest | None) -> list[str]:
    """Every reviewer the manifest in force lets approve this change (never the requester),
    with their roles, so the assistant can tell the user whom to ask."""
    if manifest is None:
        return []
    names = [
        name
        for name in sorted(manifest.reviewers)
        if name != change.requester
        and reviewer_may_approve(manifest, name, change.risk_class).allowed
    ]
    return [f"{n} ({', '.join(manifest.reviewers[n].roles) or 'no role'})" for n in names]


def review_page(ctx: ToolContext, change_id: str) -> str:
    """The change's page in the review console: where it is reviewed (never how)."""
    return f"{ctx.changes.console_url}/changes/{change_id}"


def next_steps(
    change: Change, who: list[str], *, proposal: bool, review_url: str | None = None
) -> str | None:
    """What the requester can do next, in the state the change is in. Where the change is
    reviewed, never how to approve it: that is a human's act, and an assistant told the
    command is one shell away from trying it."""
    status = change.status
    if status not in (ChangeStatus.PROPOSED, ChangeStatus.APPROVED):
        if status is ChangeStatus.FAILED:
            return (
                "Not re-applied. propose_finish proposes exactly the records that were not "
                "written; get_change shows the account."
            )
        return None
    token = (
        "Then call apply_change with change_id and this confirmation_token. "
        if proposal
        else "Then call apply_change with the confirmation token from the proposal. "
    )
    if status is ChangeStatus.APPROVED:
        return ("Approved: call apply_change. " if not proposal else token) + LOST_CONFIRMATION
    req = change.approvals_required
    if not who:
        return (
            f"No reviewer in the manifest may approve {change.risk_class} changes, so this "
            "change cannot be approved until the manifest owner adds one; cancel_change it if "
            "it is no longer wanted. " + LOST_CONFIRMATION
        )
    role = f", at least one holding role {', '.join(req.roles)}" if req.roles else ""
    at = f" ({review_url})" if review_url else ""
    return (
        f"Needs {req.count} approval(s) by human reviewers (never you){role}: who can "
        f"approve: {'; '.join(who)}. They decide in the review console{at}; you cannot approve "
        "it. " + token + LOST_CONFIRMATION + " Check progress with get_change."
    )


def _by_connector(change: Change, rows: dict[str, AppliedRecord]) -> dict[str, dict[str, int]]:
    """A change across connectors: the account of each connector's part."""
    out: dict[str, dict[str, int]] = {}
    for part in across.parts(change):
        planned = [r.ref for r in part.plan.effective_records]
        out[part.connector] = {
            "planned": len(planned),
            "written": sum(ref in rows and rows[ref].ok for ref in planned),
            "failed": sum(
                ref in rows and not rows[ref].ok and rows[ref].code != "not_attempted"
                for ref in planned
            ),
            "not_attempted": sum(
                ref in rows and rows[ref].code == "not_attempted" for ref in planned
            ),
        }
    return out


def change_out(
    change: Change,
    access: FieldAccess | None,
    manifest: Manifest | None = None,
    *,
    proposal: bool = False,
    review_url: str | None = None,
) -> ChangeOut:
    plan = change.plan
    who = who_can_approve(change, manifest)
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
        status=shown_status(change),
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
            who_can_approve=who,
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
        next_steps=next_steps(change, who, proposal=proposal, review_url=review_url),
        revert=revert_note(change),
    )

"""Human decisions on a change: approve, reject, cancel.

Separation of duties (NIST AC-3(2), AC-5): the principal that asked for a change can never approve
it, an AI principal's name can never act as a reviewer, and N approvals mean N different people
who each hold the change's risk class, with every required role among them. A decision is a
signed statement (``governance.reviewer_proof``): a typed name proves nothing. These functions
are for the reviewer CLI and the review console only; no MCP tool reaches approve or reject.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from mopsgate.governance.change_model import Approval, Change, ChangeStatus, utcnow
from mopsgate.governance.change_rules import Audited, status_refusal
from mopsgate.governance.decision_proof import SignedDecision
from mopsgate.governance.errors import (
    ChangeRefused,
    GovernanceError,
    InvalidInput,
    NotPermitted,
    StaleChange,
)
from mopsgate.governance.manifest_load import digest_matches, manifest_digest
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.policy import (
    ApprovalRequirement,
    approvals_satisfied,
    reviewer_may_approve,
)
from mopsgate.governance.policy_core import Decision as PolicyDecision
from mopsgate.governance.ports import ChangeStore
from mopsgate.governance.reviewer_proof import check_signed, checklist_answers

S = ChangeStatus


def requirement_of(change: Change) -> ApprovalRequirement:
    req = change.approvals_required
    return ApprovalRequirement(req.count, frozenset(req.roles), req.rule_id, req.reason)


def approval_progress(manifest: Manifest, change: Change) -> PolicyDecision:
    """Whether the approvals so far satisfy the change, and if not, what is still missing."""
    approvers = [a.reviewer for a in change.approvals if a.reviewer != change.requester]
    return approvals_satisfied(manifest, change.risk_class, requirement_of(change), approvers)


def approval_summary(manifest: Manifest, change: Change) -> str:
    """What the approvals so far add up to, in one plain sentence for the console and
    ``mopsgate review show``: either that it is ready, or how many more approvals (and which
    roles) it needs."""
    req = change.approvals_required
    eligible = sorted(
        {
            a.reviewer
            for a in change.approvals
            if a.reviewer != change.requester
            and reviewer_may_approve(manifest, a.reviewer, change.risk_class).allowed
        }
    )
    so_far = f"approved by {', '.join(eligible)}" if eligible else "no approvals yet"
    if approval_progress(manifest, change).allowed:
        ready = " — ready to apply" if change.status in {S.PROPOSED, S.APPROVED} else ""
        k = len(eligible)
        tally = f"{k} of {k} required" if k == req.count else f"{k} ({req.count} required)"
        return f"Approved by {tally} reviewers{ready}"
    held = {role for a in eligible for role in manifest.reviewers[a].roles}
    missing = sorted(set(req.roles) - held)
    more = max(req.count - len(eligible), 1 if missing else 0)
    among = "including role" if more > len(missing) else "role"
    roles = f" ({among}: {', '.join(missing)})" if missing else ""
    return f"Needs {more} more approval{'s' if more > 1 else ''}{roles}; {so_far}"


def principal_as_reviewer(
    manifest: Manifest, reviewer: str, details: dict[str, str]
) -> NotPermitted | None:
    """The refusal for an AI principal's name given as a reviewer's, or None."""
    if reviewer not in manifest.principals:
        return None
    return NotPermitted(
        f"{reviewer!r} is an AI principal in the manifest, and principals cannot review",
        hint="reviewers are people listed under [reviewers] with names no principal uses",
        details={**details, "reason_code": "principal_as_reviewer"},
    )


def check_reviewer(manifest: Manifest, change: Change, reviewer: str, action: str) -> None:
    details = {"change_id": change.id, "reviewer": reviewer}
    if reviewer == change.requester:
        raise NotPermitted(
            f"{reviewer} proposed {change.id} and so cannot {action} it",
            hint="the requester can never review their own change; ask another reviewer"
            + ("" if action == "approve" else ", or cancel it as its requester"),
            details={**details, "reason_code": "self_approval"},
        )
    if principal := principal_as_reviewer(manifest, reviewer, details):
        raise principal
    decision = reviewer_may_approve(manifest, reviewer, change.risk_class)
    if not decision.allowed:
        raise NotPermitted(
            decision.reason,
            rule_id=decision.rule_id,
            details={**details, "reason_code": "reviewer_not_allowed"},
        )


async def _check_fresh(
    store: ChangeStore, manifest: Manifest, change: Change, now: datetime, action: str
) -> None:
    """Refuse (and record) expiry and manifest drift before any decision is stored."""
    if change.status in {S.PROPOSED, S.APPROVED} and change.is_expired(now):
        await store.mark_expired(change.id)
        raise ChangeRefused(
            f"change {change.id} is expired (at {change.expires_at.isoformat(timespec='seconds')})"
            f", so it cannot be {action}",
            hint="the requester must propose it again",
            details={"reason_code": "status_expired", "change_id": change.id, "status": "expired"},
        )
    if change.status in {S.PROPOSED, S.APPROVED} and not digest_matches(
        change.manifest_digest, manifest
    ):
        detail = "the manifest changed since this plan was made"
        await store.mark_stale(change.id, detail)
        raise StaleChange(
            f"change {change.id} is stale: {detail}, so it cannot be {action}",
            hint="the requester must propose it again under the current manifest",
            details={"reason_code": "manifest_changed", "change_id": change.id, "status": "stale"},
        )


async def approve(
    store: ChangeStore,
    manifest: Manifest,
    signed: SignedDecision,
    *,
    now: datetime | None = None,
    audit: Audited | None = None,
) -> Change:
    """Add one signed approval; the one that completes the set moves the change to
    ``approved``. The statement must be signed with a key the manifest declares for its
    reviewer, over this change's plan digest and the manifest in force (``check_signed``).
    ``audit``: the decision's row, stored with it or not at all (``deciding.record``)."""
    at = now or utcnow()
    st = signed.statement
    change = await store.require(st.change_id)
    check_reviewer(manifest, change, st.reviewer, "approve")
    if change.status is not S.PROPOSED:
        raise status_refusal(change, change.status, "approved")
    await _check_fresh(store, manifest, change, at, "approved")
    if checklist_answers(manifest, change.risk_class, st.checklist) != st.checklist:
        raise InvalidInput(
            "the signed checklist answers are not the checklist's answers",
            hint="answer every item as asked (ticks as yes), then sign again",
            details={"reason_code": "checklist_incomplete", "change_id": change.id},
        )
    check_signed(manifest, manifest_digest(manifest), change, signed, "approve", at)
    roles = list(manifest.reviewers[st.reviewer].roles)
    approval = Approval(reviewer=st.reviewer, roles=roles, note=st.note, at=st.time, proof=signed)

    def satisfied(approvals: Sequence[Approval]) -> bool:
        names = [a.reviewer for a in approvals]
        return approvals_satisfied(
            manifest, change.risk_class, requirement_of(change), names
        ).allowed

    def still_fresh(current: Change) -> GovernanceError | None:
        if current.is_expired(at):
            return ChangeRefused(f"change {current.id} expired while it was being approved")
        return None

    return await store.add_approval(change.id, approval, satisfied, still_fresh, audit=audit)


async def reject(
    store: ChangeStore,
    manifest: Manifest,
    signed: SignedDecision,
    *,
    now: datetime | None = None,
    audit: Audited | None = None,
) -> Change:
    """A reviewer may reject a proposed change, or revoke an approved one before it is applied;
    the statement's note is the reason, and it is signed like an approval."""
    st = signed.statement
    if not st.note.strip():
        raise InvalidInput(
            "a rejection needs a reason", hint="say why, so the requester can act on it"
        )
    at = now or utcnow()
    change = await store.require(st.change_id)
    check_reviewer(manifest, change, st.reviewer, "reject")
    await _check_fresh(store, manifest, change, at, "rejected")
    check_signed(manifest, manifest_digest(manifest), change, signed, "reject", at)
    return await store.reject(
        change.id, st.reviewer, st.note, lambda _c: None, now=st.time, proof=signed, audit=audit
    )


async def cancel(
    store: ChangeStore, change_id: str, principal: str, now: datetime | None = None
) -> Change:
    """Only the requester may cancel, and only while the change is proposed or approved."""
    return await store.cancel(change_id, principal, "cancelled by the requester", now=now)

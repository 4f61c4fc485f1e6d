"""The change store's rules, for every backend: which transitions are allowed, what a refusal
says, what a stored change document holds, and the hourly record budget.

A backend runs each state change as one transaction: it loads the change, asks these rules
whether the move is allowed, and writes with a compare-and-set on the status it read. The rules
never raise inside that transaction; they return the refusal, so whatever the transaction wrote
on the way (e.g. marking a change expired) commits before the caller raises it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import JsonValue

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.change_model import Approval, Change, ChangeStatus, sources_of
from mopsgate.governance.errors import (
    ChangeRefused,
    GovernanceError,
    NotFound,
    NotPermitted,
    RateLimited,
    TokenInvalid,
)

S = ChangeStatus
FinalStatus = (
    Literal[ChangeStatus.APPLIED, ChangeStatus.FAILED, ChangeStatus.STALE]
    | Literal["applied", "failed", "stale"]
)
FINAL = frozenset({S.APPLIED, S.FAILED, S.STALE})
DEFAULT_LIST_LIMIT = 200
Satisfied = Callable[[Sequence[Approval]], bool]
Guard = Callable[[Change], GovernanceError | None]
# The audit row of a decision, built from the change as the decision leaves it and written in
# the decision's own transaction: if the row cannot be written, the decision is not stored.
Audited = Callable[[Change], AuditEvent]


@dataclass(frozen=True)
class Done:
    """What a transaction produced: a change, or the refusal to raise once it has committed."""

    change: Change | None = None
    refusal: GovernanceError | None = None

    def result(self) -> Change:
        if self.refusal is not None:
            raise self.refusal
        assert self.change is not None
        return self.change


@dataclass(frozen=True)
class RecordBudget:
    """The requester's records-per-hour limit, checked in the transaction that stores the
    change (so two proposals racing cannot both slip under it)."""

    limit: int
    since: datetime
    requested: int

    def refusal(self, used: int) -> RateLimited | None:
        if used + self.requested <= self.limit:
            return None
        return RateLimited(
            f"proposing {self.requested} more records would exceed your limit of {self.limit} "
            f"records per hour ({used} already proposed).",
            hint="Wait, or ask a human to handle this bulk change.",
            rule_id="rate-limit",
        )


def document(change: Change) -> dict[str, JsonValue]:
    """What a backend stores as the change's document. Status, approvals and per-record
    results have their own columns and tables (the source of truth) and are overlaid on read,
    so the document never holds a second, divergent copy."""
    return change.model_dump(mode="json", exclude={"approvals": True, "outcome": {"records"}})


def not_found(change_id: str) -> NotFound:
    return NotFound(
        f"there is no change {change_id!r}",
        hint="check the id with `mopsgate review list` (reviewers) or list_my_changes (assistant)",
        details={"reason_code": "not_found", "change_id": change_id},
    )


_STATUS_HINTS: dict[ChangeStatus, str] = {
    S.PROPOSED: "it still needs its approvals from human reviewers",
    S.APPROVED: "it is already approved; nothing more is needed before apply",
    S.REJECTED: "a reviewer rejected it; propose a new change if it is still wanted",
    S.EXPIRED: "it expired before it was applied; propose it again",
    S.CANCELLED: "its requester cancelled it; propose a new change if it is still wanted",
    S.APPLYING: "it is being applied right now; check it again in a moment",
    S.APPLIED: "it has already been applied; use propose_revert to undo it",
    S.FAILED: "its apply failed; see its outcome for which records were written",
    S.STALE: "the world or the manifest changed since it was planned; propose it again",
}


def status_refusal(change: Change, status: ChangeStatus, action: str) -> ChangeRefused:
    cls = TokenInvalid if action == "applied" and status in {S.APPLYING, S.APPLIED} else None
    code = "already_consumed" if cls else f"status_{status}"
    return (cls or ChangeRefused)(
        f"change {change.id} is {status}, so it cannot be {action}",
        hint=_STATUS_HINTS[status],
        details={"reason_code": code, "change_id": change.id, "status": str(status)},
    )


def transition_refusal(
    change: Change,
    target: ChangeStatus,
    action: str,
    allowed: Iterable[ChangeStatus] | None = None,
    guard: Guard | None = None,
) -> GovernanceError | None:
    """Why ``change`` may not move to ``target`` now (None: it may). ``allowed`` may only
    narrow the lifecycle, never widen it."""
    sources = sources_of(target) & frozenset(allowed or sources_of(target))
    if change.status not in sources:
        return status_refusal(change, change.status, action)
    return guard(change) if guard is not None else None


def final_status(status: ChangeStatus | str) -> ChangeStatus:
    target = ChangeStatus(status)
    if target not in FINAL:
        raise ValueError(f"an apply finishes as applied, failed or stale, not {target}")
    return target


def replayed(change_id: str) -> TokenInvalid:
    return TokenInvalid(
        "this confirmation token has already been used",
        hint="a token applies its change once; get_change shows what that apply did",
        details={"reason_code": "already_used", "change_id": change_id},
    )


def approved_twice(change: Change, reviewer: str) -> NotPermitted:
    return NotPermitted(
        f"{reviewer} has already approved {change.id}; N approvals need N different reviewers",
        hint="ask another reviewer who holds the required role",
        details={"reason_code": "duplicate_approval", "change_id": change.id},
    )


def written_twice(change_id: str, ref: str) -> ChangeRefused:
    return ChangeRefused(f"{ref} was already written by {change_id}")


def not_applying(change_id: str, status: str) -> ChangeRefused:
    return ChangeRefused(f"change {change_id} is {status}, not applying")


def only_requester(change_id: str, principal: str) -> Guard:
    def guard(change: Change) -> GovernanceError | None:
        if change.requester == principal:
            return None
        return NotPermitted(
            f"only {change.requester}, who proposed {change_id}, may cancel it",
            details={"reason_code": "not_requester", "change_id": change_id},
        )

    return guard

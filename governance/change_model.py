"""A change is a saved plan plus its review and apply history.

The plan is pure data, like a Terraform plan file: it holds the before-image of exactly what it
will touch, so apply can refuse when the world moved on, and revert can be built from it without
asking the vendor what things used to be. The plan digest binds approvals and confirmation tokens
to these exact bytes: change one value and every signature over it stops matching.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from mopsgate.governance.decision_proof import SignedDecision
from mopsgate.governance.risk import RiskClass

DEFAULT_TTL = timedelta(hours=24)
CHANGE_ID_PREFIX = "chg_"

Operation = Literal[
    "update_fields",
    "add_to_list",
    "remove_from_list",
    "set_campaign_status",
    "trigger_campaign",
    "schedule_campaign",
    "opt_out",
    "delete_person",
    "merge_people",
    "archive_list",
]
RecordAction = Literal[
    "update",
    "add",
    "remove",
    "noop",
    "trigger",
    "schedule",
    "set_status",
    "join",
    "opt_out",
    "delete",
    "merge",
    "merged_away",
    "archive",
]


class ChangeStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    APPLYING = "applying"
    APPLIED = "applied"
    FAILED = "failed"
    STALE = "stale"


S = ChangeStatus
# The whole lifecycle. Stores check it so a bug elsewhere cannot invent a new path (e.g. back from
# applied to approved, which would let one approval be spent twice).
TRANSITIONS: dict[ChangeStatus, frozenset[ChangeStatus]] = {
    S.PROPOSED: frozenset({S.APPROVED, S.REJECTED, S.EXPIRED, S.CANCELLED, S.STALE}),
    S.APPROVED: frozenset({S.APPLYING, S.REJECTED, S.EXPIRED, S.CANCELLED, S.STALE}),
    S.APPLYING: frozenset({S.APPLIED, S.FAILED, S.STALE}),
    S.FAILED: frozenset({S.APPLYING}),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
    S.CANCELLED: frozenset(),
    S.APPLIED: frozenset(),
    S.STALE: frozenset(),
}
OPEN_STATUSES = frozenset({S.PROPOSED, S.APPROVED})
TERMINAL_STATUSES = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)


def sources_of(target: ChangeStatus) -> frozenset[ChangeStatus]:
    """Statuses from which ``target`` is reachable: the ``WHERE status IN (...)`` of a CAS."""
    return frozenset(s for s, nxt in TRANSITIONS.items() if target in nxt)


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class FieldChange(_Data):
    field: str
    before: Any = None
    after: Any = None


class PlannedRecord(_Data):
    ref: str
    action: RecordAction
    # The before-image of exactly the fields the plan touches, plus the consent fields the floor
    # was checked against, so apply can tell "changed since plan" apart from "always like this".
    before: dict[str, Any] = Field(default_factory=dict)
    changes: list[FieldChange] = Field(default_factory=list)


class BlockedRecord(_Data):
    ref: str
    reason_code: str
    reason: str


class PlanSummary(_Data):
    records: int
    updates: int
    adds: int
    removes: int
    noops: int
    field_changes: int
    blocked: int


class Plan(_Data):
    operation: Operation
    connector: str
    target: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    records: list[PlannedRecord] = Field(default_factory=list)
    blocked: list[BlockedRecord] = Field(default_factory=list)

    @property
    def summary(self) -> PlanSummary:
        """Derived, not stored, so it can never disagree with the records it counts."""
        actions = [r.action for r in self.records]
        return PlanSummary(
            records=len(self.records),
            updates=sum(a not in {"add", "remove", "noop"} for a in actions),
            adds=actions.count("add"),
            removes=actions.count("remove"),
            noops=actions.count("noop"),
            field_changes=sum(len(r.changes) for r in self.records),
            blocked=len(self.blocked),
        )

    @property
    def effective_records(self) -> list[PlannedRecord]:
        """Records apply will actually write: no-ops are shown to reviewers but never sent."""
        return [r for r in self.records if r.action != "noop"]


class ApprovalsRequired(_Data):
    count: int = Field(ge=0)
    roles: list[str] = Field(default_factory=list)
    rule_id: str = ""
    reason: str = ""


class Approval(_Data):
    reviewer: str
    roles: list[str] = Field(default_factory=list)
    note: str = ""
    at: datetime
    # The signed statement and its proof: what `mopsgate audit verify` re-checks. None only in
    # rows recorded before decisions were signed (audit verify reports those as unproven).
    proof: SignedDecision | None = None


class Decision(_Data):
    """A rejection or a cancellation: who ended the change, why, when."""

    by: str
    reason: str = ""
    at: datetime
    proof: SignedDecision | None = None  # a rejection is signed like an approval


class AppliedRecord(_Data):
    ref: str
    ok: bool
    code: str | None = None
    message: str | None = None
    after_image: dict[str, Any] = Field(default_factory=dict)
    written_at: datetime


class Outcome(_Data):
    records: list[AppliedRecord] = Field(default_factory=list)
    detail: str | None = None
    finished_at: datetime | None = None

    @property
    def written(self) -> list[str]:
        return [r.ref for r in self.records if r.ok]


class Change(_Data):
    id: str
    requester: str
    tool: str
    connector: str
    risk_class: RiskClass
    reason: str
    status: ChangeStatus = ChangeStatus.PROPOSED
    created_at: datetime
    expires_at: datetime
    plan: Plan
    plan_digest: str
    manifest_digest: str
    approvals_required: ApprovalsRequired
    approvals: list[Approval] = Field(default_factory=list)
    rejection: Decision | None = None
    cancellation: Decision | None = None
    outcome: Outcome = Field(default_factory=Outcome)
    status_detail: str | None = None
    revert_of: str | None = None
    reverted_by: str | None = None
    # A change that failed part-way is finished by a new one holding exactly its unwritten
    # records (propose_finish); these link the two like revert_of / reverted_by.
    finish_of: str | None = None
    finished_by: str | None = None
    # The use case the change was proposed under (that of the rule that allowed the proposal):
    # its reviews, apply and audit rows are attributed to it, and its review cadence governs
    # whether it may be applied. None on changes stored before use cases were recorded.
    use_case: str | None = None

    @property
    def blocked(self) -> list[BlockedRecord]:
        return self.plan.blocked

    @property
    def approvals_missing(self) -> int:
        return max(0, self.approvals_required.count - len({a.reviewer for a in self.approvals}))

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_change_id() -> str:
    return f"{CHANGE_ID_PREFIX}{secrets.token_hex(6)}"


def canonical_json(value: JsonValue) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def plan_digest(plan: Plan) -> str:
    """sha256 of the canonical JSON of the plan: what an approval and a token are bound to."""
    return hashlib.sha256(canonical_json(plan.model_dump(mode="json")).encode()).hexdigest()


def new_change(
    *,
    requester: str,
    tool: str,
    risk_class: RiskClass,
    reason: str,
    plan: Plan,
    manifest_digest: str,
    approvals_required: ApprovalsRequired,
    now: datetime | None = None,
    ttl: timedelta = DEFAULT_TTL,
    revert_of: str | None = None,
    finish_of: str | None = None,
    use_case: str | None = None,
) -> Change:
    """A fresh proposed change with its id, digest and expiry filled in consistently."""
    created = now or utcnow()
    return Change(
        id=new_change_id(),
        requester=requester,
        tool=tool,
        connector=plan.connector,
        risk_class=risk_class,
        reason=reason,
        created_at=created,
        expires_at=created + ttl,
        plan=plan,
        plan_digest=plan_digest(plan),
        manifest_digest=manifest_digest,
        approvals_required=approvals_required,
        revert_of=revert_of,
        finish_of=finish_of,
        use_case=use_case,
    )

"""The risk-review report as data: what ``mopsgate report risk-review --format json`` prints.

One model, three renderings (HTML for the board, Markdown for a pull request, JSON for tools):
every number a renderer shows is a field here, so a test can assert each item of the review from
the JSON alone, and the renderings cannot disagree with each other.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

REPORT_VERSION = 1


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Count(_Out):
    key: str
    count: int


class Owners(_Out):
    business: str
    technical: str
    data: str
    risk: str
    escalation: str


class FieldGrant(_Out):
    """What one use case's principals may read and propose on one object."""

    connector: str
    object: str
    readable: list[str] | Literal["all"]
    withheld: list[str]
    writable: list[str]
    pii: list[str] = Field(description="PII fields among those readable or writable")
    pii_unmasked: bool


class UseCaseActivity(_Out):
    calls: int
    denied: int
    proposals: int
    applied: int


class UseCaseReport(_Out):
    name: str
    purpose: str
    risk_level: str
    owners: Owners
    missing_owners: list[str]
    review_date: dt.date
    review_state: Literal["current", "overdue", "enforced"]
    days_overdue: int
    on_overdue: str
    grace_days: int
    enforced_from: dt.date
    principals: list[str]
    rules: list[str]
    tools: list[str]
    connectors: list[str]
    environments: dict[str, str]
    fields: list[FieldGrant]
    activity: UseCaseActivity


class DecisionTimes(_Out):
    """Seconds from proposal to the decision (the approval that satisfied it, or the
    rejection); nearest-rank percentiles."""

    decisions: int
    p50_seconds: float | None
    p95_seconds: float | None


class ReviewerLoad(_Out):
    reviewer: str
    approvals: int
    rejections: int


class ChangeRef(_Out):
    id: str
    risk_class: str
    requester: str
    status: str
    detail: str | None


class Activity(_Out):
    calls: int
    allowed: int
    denied: int
    errors: int
    calls_by_day: list[Count]
    denials_by_day: list[Count]
    denials_by_rule: list[Count]
    proposals: int
    proposals_by_risk_class: list[Count]
    approved: int
    rejected: int
    time_to_decision: DecisionTimes
    applied: int
    failed: int
    stale: int
    stale_or_failed: list[ChangeRef]
    floor_refusals: int
    floor_blocked_records: int
    reverts: int
    reviewer_load: list[ReviewerLoad]


class FreezeEvent(_Out):
    at: dt.datetime
    action: Literal["freeze", "unfreeze"]
    by: str
    reason: str | None


class ManifestVersion(_Out):
    digest: str
    at: dt.datetime
    outcome: Literal["in_force", "refused"]
    loaded_by: str | None
    git_commit: str | None
    git_author: str | None
    reason: str | None
    changes: list[str] = Field(description="What changed against the version in force before")


class ExceptionEntry(_Out):
    id: str
    use_case: str
    what: str
    granted_at: dt.datetime
    expires_at: dt.datetime
    reviewer: str
    ticket: str
    reason: str
    state: Literal["active", "expired", "revoked"]
    revoked_at: dt.datetime | None = None
    revoked_by: str | None = None


ProblemKind = Literal[
    "missing_owner", "overdue_review", "unused_grant", "denial_spike", "audit_chain"
]


class Problem(_Out):
    kind: ProblemKind
    subject: str
    detail: str


class AuditEvidence(_Out):
    rows_in_period: int
    first_seq: int | None
    last_seq: int | None
    chain: Literal["intact", "broken", "not_checked"]
    head_hash: str | None
    detail: str | None


class RiskReport(_Out):
    report_version: int = REPORT_VERSION
    generated_at: dt.datetime
    since: dt.datetime
    until: dt.datetime
    manifest_digest: str
    use_cases: list[UseCaseReport]
    activity: Activity
    freezes: list[FreezeEvent]
    manifest_versions: list[ManifestVersion]
    exceptions: list[ExceptionEntry]
    problems: list[Problem]
    audit: AuditEvidence

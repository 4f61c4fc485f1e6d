"""Building the risk-review report from the evidence: the manifest in force, the audit log, the
changes, the manifest history and the exceptions.

Pure: the caller reads the stores and passes plain values in, so the same inputs always give
the same report (the golden-file test relies on it). Every list is sorted on a stable key.
Rows and changes carry the use case they ran under; for ones written before that was recorded
the report falls back to the rule's use case (a change: its requester's only use case), and
where even that cannot be said it reports "(unknown)" rather than guess.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from mopsgate.governance.audit_chain import AuditRow, VerifyResult
from mopsgate.governance.cadence import review_status
from mopsgate.governance.change_model import Change, ChangeStatus
from mopsgate.governance.manifest_model import AllowRule, Manifest
from mopsgate.governance.policy import explain, field_access
from mopsgate.governance.policy_core import scope_match
from mopsgate.governance.report_model import (
    Activity,
    AuditEvidence,
    ChangeRef,
    Count,
    DecisionTimes,
    ExceptionEntry,
    FieldGrant,
    FreezeEvent,
    ManifestVersion,
    Owners,
    Problem,
    ReviewerLoad,
    RiskReport,
    UseCaseActivity,
    UseCaseReport,
)

UNKNOWN = "(unknown)"
FLOOR_RULE = "compliance-floor"
FLOOR_CODE = "compliance_floor"
# A day is a denial spike when it has at least this many denials and at least SPIKE_FACTOR
# times the median day's: a handful of refusals is an assistant learning its limits; a spike
# is one probing them, or a manifest edit that took rights away.
SPIKE_MIN = 10
SPIKE_FACTOR = 3
OWNER_ROLES = ("business", "technical", "data", "risk", "escalation")


@dataclass(frozen=True)
class ReportInputs:
    manifest: Manifest
    manifest_digest: str
    rows: Sequence[AuditRow]
    changes: Sequence[Change]
    since: dt.datetime
    until: dt.datetime
    manifest_versions: Sequence[ManifestVersion] = ()
    exceptions: Sequence[ExceptionEntry] = ()
    chain: VerifyResult | None = None
    generated_at: dt.datetime | None = None


def when(ts: str) -> dt.datetime:
    return dt.datetime.fromisoformat(ts)


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile: a value that occurred, never an interpolation."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def counts(keys: Iterable[str]) -> list[Count]:
    """Most frequent first, then by key, so equal inputs always list in the same order."""
    return [
        Count(key=k, count=n)
        for k, n in sorted(Counter(keys).items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def by_day(stamps: Iterable[dt.datetime]) -> list[Count]:
    tally = Counter(s.date().isoformat() for s in stamps)
    return [Count(key=k, count=tally[k]) for k in sorted(tally)]


@dataclass
class _Evidence:
    """The inputs, narrowed to the period and indexed once."""

    inputs: ReportInputs
    calls: list[AuditRow] = field(default_factory=list)
    other: list[AuditRow] = field(default_factory=list)
    proposed: list[Change] = field(default_factory=list)
    rule_use_case: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lo, hi = self.inputs.since, self.inputs.until
        for row in self.inputs.rows:
            if lo <= when(row.ts) <= hi:
                (self.calls if row.kind == "tool_call" else self.other).append(row)
        self.proposed = sorted(
            (c for c in self.inputs.changes if lo <= c.created_at <= hi),
            key=lambda c: (c.created_at, c.id),
        )
        m = self.inputs.manifest
        self.rule_use_case = {
            r.id: r.use_case for r in m.rules if isinstance(r, AllowRule) and r.use_case
        }

    def in_period(self, at: dt.datetime | None) -> bool:
        return at is not None and self.inputs.since <= at <= self.inputs.until

    def use_case_of_row(self, row: AuditRow) -> str:
        """As recorded; for a row from before use cases were recorded, its rule's."""
        return row.use_case or self.rule_use_case.get(row.rule_id or "", UNKNOWN)

    def use_case_of_change(self, change: Change) -> str:
        if change.use_case is not None:
            return change.use_case
        principal = self.inputs.manifest.principals.get(change.requester)
        if principal is not None and len(principal.use_cases) == 1:
            return principal.use_cases[0]
        return UNKNOWN


def build_report(inputs: ReportInputs) -> RiskReport:
    ev = _Evidence(inputs)
    use_cases = [_use_case(ev, name) for name in sorted(inputs.manifest.use_cases)]
    activity = _activity(ev)
    return RiskReport(
        generated_at=inputs.generated_at or inputs.until,
        since=inputs.since,
        until=inputs.until,
        manifest_digest=inputs.manifest_digest,
        use_cases=use_cases,
        activity=activity,
        freezes=_freezes(ev),
        manifest_versions=sorted(inputs.manifest_versions, key=lambda v: (v.at, v.digest)),
        exceptions=sorted(inputs.exceptions, key=lambda e: (e.granted_at, e.id)),
        problems=_problems(ev, use_cases, activity),
        audit=_audit(ev),
    )


# --- use cases ---


def _use_case(ev: _Evidence, name: str) -> UseCaseReport:
    m = ev.inputs.manifest
    uc = m.use_cases[name]
    status = review_status(name, uc, ev.inputs.until.date())
    principals = sorted(p for p, pr in m.principals.items() if name in pr.use_cases)
    rules = [r for r in m.rules if isinstance(r, AllowRule) and r.use_case == name]
    rule_ids = {r.id for r in rules}
    tools: set[str] = set()
    connectors: set[str] = set()
    for p in principals:
        for row in explain(m, p, today=ev.inputs.until.date()):
            if row.rule_id in rule_ids and row.mode != "deny":
                tools.add(row.tool)
                if row.connector:
                    connectors.add(row.connector)
    calls = [r for r in ev.calls if ev.use_case_of_row(r) == name]
    proposed = [c for c in ev.proposed if ev.use_case_of_change(c) == name]
    return UseCaseReport(
        name=name,
        purpose=uc.purpose,
        risk_level=uc.risk_level,
        owners=Owners(**{k: getattr(uc.owners, k) for k in OWNER_ROLES}),
        missing_owners=[k for k in OWNER_ROLES if not getattr(uc.owners, k).strip()],
        review_date=uc.review_date,
        review_state=status.state,
        days_overdue=status.days_overdue,
        on_overdue=uc.on_overdue,
        grace_days=uc.grace_days,
        enforced_from=status.enforced_from,
        principals=principals,
        rules=sorted(rule_ids),
        tools=sorted(tools),
        connectors=sorted(connectors),
        environments={c: m.environment(c) for c in sorted(connectors)},
        fields=_fields(m, principals, rules, sorted(connectors)),
        activity=UseCaseActivity(
            calls=len(calls),
            denied=sum(r.decision == "denied" for r in calls),
            proposals=len(proposed),
            applied=sum(c.status is ChangeStatus.APPLIED for c in proposed),
        ),
    )


def _fields(
    m: Manifest, principals: Sequence[str], rules: Sequence[AllowRule], connectors: Sequence[str]
) -> list[FieldGrant]:
    """Per person object the use case's rules reach: the union over its principals."""
    out = []
    for c in connectors:
        for obj, of in sorted(m.catalogue.objects.get(c, {}).items()):
            if not of.fields or not any(scope_match(r, "", c, obj, deny=False) for r in rules):
                continue
            access = [field_access(m, p, c, obj) for p in principals]
            readable_all = any(a.readable is None for a in access)
            readable = set().union(*(a.readable or () for a in access))
            withheld = set().union(*(a.denied for a in access))
            writable = set().union(*(a.writable for a in access))
            pii = set().union(*(a.pii_fields for a in access))
            seen = (set(of.fields) - withheld) if readable_all else readable
            out.append(
                FieldGrant(
                    connector=c,
                    object=obj,
                    readable="all" if readable_all else sorted(readable),
                    withheld=sorted(withheld),
                    writable=sorted(writable),
                    pii=sorted(pii & (seen | writable)),
                    pii_unmasked=any(a.unmasked_pii for a in access),
                )
            )
    return out


# --- activity ---


def _decision_seconds(change: Change) -> tuple[dt.datetime, float] | None:
    """When the change was decided and how long after it was proposed."""
    if change.rejection is not None:
        return change.rejection.at, (change.rejection.at - change.created_at).total_seconds()
    needed = change.approvals_required.count
    firsts: dict[str, dt.datetime] = {}
    for a in sorted(change.approvals, key=lambda a: a.at):
        firsts.setdefault(a.reviewer, a.at)
    if needed < 1 or len(firsts) < needed:
        return None
    at = sorted(firsts.values())[needed - 1]
    return at, (at - change.created_at).total_seconds()


def _activity(ev: _Evidence) -> Activity:
    calls = ev.calls
    denied = [r for r in calls if r.decision == "denied"]
    decided = [
        (c, seconds)
        for c in ev.inputs.changes
        if (d := _decision_seconds(c)) is not None and ev.in_period(d[0])
        for seconds in (d[1],)
    ]
    seconds = [s for _, s in decided]
    load: dict[str, list[int]] = {}
    for c in ev.inputs.changes:
        for a in c.approvals:
            if ev.in_period(a.at):
                load.setdefault(a.reviewer, [0, 0])[0] += 1
        if c.rejection is not None and ev.in_period(c.rejection.at):
            load.setdefault(c.rejection.by, [0, 0])[1] += 1
    ended = [c for c in ev.proposed if c.status in (ChangeStatus.STALE, ChangeStatus.FAILED)]
    floor = [r for r in calls if r.rule_id == FLOOR_RULE or r.error_code == FLOOR_CODE]
    return Activity(
        calls=len(calls),
        allowed=sum(r.decision == "allowed" and r.outcome == "ok" for r in calls),
        denied=len(denied),
        errors=sum(r.decision != "denied" and r.outcome == "error" for r in calls),
        calls_by_day=by_day(when(r.ts) for r in calls),
        denials_by_day=by_day(when(r.ts) for r in denied),
        denials_by_rule=counts(r.rule_id or UNKNOWN for r in denied),
        proposals=len(ev.proposed),
        proposals_by_risk_class=counts(str(c.risk_class) for c in ev.proposed),
        approved=sum(c.rejection is None for c, _ in decided),
        rejected=sum(c.rejection is not None for c, _ in decided),
        time_to_decision=DecisionTimes(
            decisions=len(seconds),
            p50_seconds=percentile(seconds, 50),
            p95_seconds=percentile(seconds, 95),
        ),
        applied=sum(c.status is ChangeStatus.APPLIED for c in ev.proposed),
        failed=sum(c.status is ChangeStatus.FAILED for c in ev.proposed),
        stale=sum(c.status is ChangeStatus.STALE for c in ev.proposed),
        stale_or_failed=[
            ChangeRef(
                id=c.id,
                risk_class=str(c.risk_class),
                requester=c.requester,
                status=str(c.status),
                detail=c.status_detail or c.outcome.detail,
            )
            for c in ended
        ],
        floor_refusals=len(floor),
        floor_blocked_records=sum(len(c.plan.blocked) for c in ev.proposed),
        reverts=sum(c.revert_of is not None for c in ev.proposed),
        reviewer_load=[
            ReviewerLoad(reviewer=r, approvals=n[0], rejections=n[1])
            for r, n in sorted(load.items())
        ],
    )


def _freezes(ev: _Evidence) -> list[FreezeEvent]:
    return [
        FreezeEvent(
            at=when(r.ts),
            action="unfreeze" if r.tool == "unfreeze" else "freeze",
            by=r.principal or UNKNOWN,
            reason=r.reason,
        )
        for r in ev.other
        if r.kind == "freeze" and r.outcome == "ok"
    ]


# --- problems and evidence ---


def _problems(
    ev: _Evidence, use_cases: Sequence[UseCaseReport], activity: Activity
) -> list[Problem]:
    out: list[Problem] = []
    for uc in use_cases:
        if uc.missing_owners:
            out.append(
                Problem(
                    kind="missing_owner",
                    subject=uc.name,
                    detail=f"no {', '.join(uc.missing_owners)} owner named",
                )
            )
        if uc.review_state != "current":
            status = review_status(
                uc.name, ev.inputs.manifest.use_cases[uc.name], ev.inputs.until.date()
            )
            out.append(Problem(kind="overdue_review", subject=uc.name, detail=status.describe()))
    used = Counter(r.rule_id for r in ev.calls if r.decision == "allowed")
    for rule in sorted(ev.inputs.manifest.rules, key=lambda r: r.id):
        if isinstance(rule, AllowRule) and not used[rule.id]:
            out.append(
                Problem(
                    kind="unused_grant",
                    subject=rule.id,
                    detail=f"rule {rule.id!r} (use case {rule.use_case!r}) allowed no call in "
                    "the period; if it is not needed, remove it",
                )
            )
    out.extend(_spikes(ev, activity))
    if ev.inputs.chain is not None and not ev.inputs.chain.ok:
        out.append(
            Problem(
                kind="audit_chain",
                subject=f"seq {ev.inputs.chain.first_bad_seq}",
                detail=ev.inputs.chain.problem,
            )
        )
    return out


def _spikes(ev: _Evidence, activity: Activity) -> list[Problem]:
    """Days whose denials stand out against the period's median day (quiet days count as 0)."""
    denials: Mapping[str, int] = {c.key: c.count for c in activity.denials_by_day}
    span = (ev.inputs.until.date() - ev.inputs.since.date()).days + 1
    days = [*denials.values(), *([0] * max(0, span - len(denials)))]
    typical = statistics.median(days) if days else 0
    return [
        Problem(
            kind="denial_spike",
            subject=day,
            detail=f"{n} denials on {day} (the median day in the period has {typical:g})",
        )
        for day, n in sorted(denials.items())
        if n >= SPIKE_MIN and n >= SPIKE_FACTOR * typical
    ]


def _audit(ev: _Evidence) -> AuditEvidence:
    rows = sorted((*ev.calls, *ev.other), key=lambda r: r.seq)
    chain = ev.inputs.chain
    state = "not_checked" if chain is None else ("intact" if chain.ok else "broken")
    return AuditEvidence(
        rows_in_period=len(rows),
        first_seq=rows[0].seq if rows else None,
        last_seq=rows[-1].seq if rows else None,
        chain=state,
        head_hash=chain.head_hash if chain is not None and chain.ok else None,
        detail=chain.problem if chain is not None else None,
    )


__all__ = ["ReportInputs", "build_report", "percentile"]

"""The risk report's figures from hand-made evidence: each item checked against what was fed in."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from mopsgate.governance.audit_chain import AuditRow, VerifyResult
from mopsgate.governance.change_model import Approval, Change, ChangeStatus, Decision
from mopsgate.governance.manifest_load import manifest_digest
from mopsgate.governance.report_build import ReportInputs, build_report, percentile
from tests.governance.change_factory import NOW, change, manifest

M = manifest()
LOW_RISK_WITHOUT_OWNERS = """
[use_cases.lookup]
purpose = "look people up"
risk_level = "low"
review_date = 2099-01-01
[use_cases.lookup.owners]
risk = "DPO"
"""
DIGEST = manifest_digest(M)
SINCE = NOW - timedelta(days=30)
UNTIL = NOW + timedelta(days=30)


def row(seq: int, at: datetime, **kw: Any) -> AuditRow:
    values: dict[str, Any] = dict(
        seq=seq,
        ts=at.isoformat(),
        kind="tool_call",
        principal="bot",
        client_name=None,
        client_version=None,
        transport="memory",
        tool="get_person",
        connector="hubspot",
        arguments="{}",
        decision="allowed",
        rule_id="bot-update",
        reason=None,
        outcome="ok",
        error_code=None,
        result_summary=None,
        upstream_calls=0,
        duration_ms=1.0,
        change_id=None,
        manifest_digest=DIGEST,
        use_case=None,
        records=None,
        prev_hash="0" * 64,
        row_hash="1" * 64,
    )
    values.update(kw)
    return AuditRow(**values)


def decided(
    c: Change,
    *,
    by: tuple[tuple[str, float], ...] = (),
    rejected: tuple[str, float] | None = None,
    status: ChangeStatus | None = None,
) -> Change:
    """``c`` approved by each (reviewer, minutes after proposal), or rejected."""
    update: dict[str, Any] = {
        "approvals": [Approval(reviewer=r, at=c.created_at + timedelta(minutes=m)) for r, m in by]
    }
    if rejected is not None:
        who, minutes = rejected
        update["rejection"] = Decision(by=who, at=c.created_at + timedelta(minutes=minutes))
        update["status"] = ChangeStatus.REJECTED
    if status is not None:
        update["status"] = status
    return c.model_copy(update=update)


def build(rows: list[AuditRow], changes: list[Change], **kw: Any) -> Any:
    return build_report(
        ReportInputs(
            manifest=M,
            manifest_digest=DIGEST,
            rows=rows,
            changes=changes,
            since=SINCE,
            until=UNTIL,
            **kw,
        )
    )


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 95)) == (50.0, 95.0)
    assert percentile([3.0, 1.0, 2.0, 10.0], 50) == 2.0


def test_decisions_rejections_applies_reverts_and_reviewer_load() -> None:
    ten = decided(change(now=NOW), by=(("lead", 10),), status=ChangeStatus.APPLIED)
    two_of_two = decided(change(now=NOW, count=2), by=(("lead", 5), ("dpo", 60)))
    rejected = decided(change(now=NOW), rejected=("dpo", 30))
    stale = change(now=NOW).model_copy(
        update={"status": ChangeStatus.STALE, "status_detail": "title moved"}
    )
    failed = change(now=NOW).model_copy(update={"status": ChangeStatus.FAILED})
    revert = change(now=NOW).model_copy(update={"revert_of": ten.id})
    pending = decided(change(now=NOW, count=2), by=(("lead", 1),))  # not decided yet
    old = change(now=SINCE - timedelta(days=1))  # proposed before the period
    changes = [ten, two_of_two, rejected, stale, failed, revert, pending, old]
    report = build([], changes)
    act = report.activity
    assert act.proposals == 7  # ``old`` is outside the period
    assert [(c.key, c.count) for c in act.proposals_by_risk_class] == [("update_fields", 7)]
    assert (act.approved, act.rejected) == (2, 1)
    # Decided after 10 min, 60 min (the second approval), 30 min (the rejection).
    assert act.time_to_decision.decisions == 3
    assert (act.time_to_decision.p50_seconds, act.time_to_decision.p95_seconds) == (1800, 3600)
    assert (act.applied, act.failed, act.stale, act.reverts) == (1, 1, 1, 1)
    assert {(c.id, c.status, c.detail) for c in act.stale_or_failed} == {
        (stale.id, "stale", "title moved"),
        (failed.id, "failed", None),
    }
    assert act.floor_blocked_records == 7  # change_factory blocks one record per plan
    load = {r.reviewer: (r.approvals, r.rejections) for r in act.reviewer_load}
    assert load == {"lead": (3, 0), "dpo": (1, 1)}
    ops = next(u for u in report.use_cases if u.name == "ops")
    assert (ops.activity.proposals, ops.activity.applied) == (7, 1)


def test_calls_denials_floor_refusals_freezes_and_spikes() -> None:
    day1, day2 = NOW, NOW + timedelta(days=1)
    rows = [row(1, day1), row(2, day1, decision="denied", rule_id="default-deny", outcome="denied")]
    rows += [
        row(3 + i, day2, decision="denied", rule_id="no-delete", outcome="denied")
        for i in range(12)
    ]
    rows += [
        row(20, day2, decision="denied", rule_id="compliance-floor", outcome="denied",
            error_code="compliance_floor"),
        row(21, day2, outcome="error", error_code="upstream_failed"),
        row(22, day2, kind="freeze", tool="freeze", principal="ops-lead", reason="incident 7"),
        row(23, day2 + timedelta(hours=2), kind="freeze", tool="unfreeze", principal="ops-lead"),
        row(24, UNTIL + timedelta(seconds=1)),  # after the period
    ]  # fmt: skip
    report = build(rows, [], chain=VerifyResult(True, 24, None, "chain intact", "ab" * 32))
    act = report.activity
    assert (act.calls, act.allowed, act.denied, act.errors) == (16, 1, 14, 1)
    assert [(c.key, c.count) for c in act.denials_by_rule] == [
        ("no-delete", 12),
        ("compliance-floor", 1),
        ("default-deny", 1),
    ]
    assert act.floor_refusals == 1
    assert [(c.key, c.count) for c in act.calls_by_day] == [
        (day1.date().isoformat(), 2),
        (day2.date().isoformat(), 14),
    ]
    assert [(f.action, f.by, f.reason) for f in report.freezes] == [
        ("freeze", "ops-lead", "incident 7"),
        ("unfreeze", "ops-lead", None),
    ]
    spikes = [p for p in report.problems if p.kind == "denial_spike"]
    assert [p.subject for p in spikes] == [day2.date().isoformat()]
    assert report.audit.chain == "intact" and report.audit.head_hash == "ab" * 32
    assert (report.audit.rows_in_period, report.audit.first_seq, report.audit.last_seq) == (
        18,
        1,
        23,
    )
    unused = {p.subject for p in report.problems if p.kind == "unused_grant"}
    assert "bot-update" not in unused  # rows 1 and 21 were allowed under it


def test_problems_missing_owners_overdue_and_a_broken_chain() -> None:
    report = build([], [], chain=VerifyResult(False, 10, 7, "row content does not match"))
    assert report.audit.chain == "broken" and report.audit.head_hash is None
    assert [(p.subject, p.detail) for p in report.problems if p.kind == "audit_chain"] == [
        ("seq 7", "row content does not match")
    ]
    gaps = manifest(LOW_RISK_WITHOUT_OWNERS)
    late = build_report(
        ReportInputs(
            manifest=gaps,
            manifest_digest=manifest_digest(gaps),
            rows=[],
            changes=[],
            since=datetime(2027, 1, 1, tzinfo=NOW.tzinfo),
            until=datetime(2027, 2, 1, tzinfo=NOW.tzinfo),
        )
    )
    ops = next(u for u in late.use_cases if u.name == "ops")
    assert (ops.review_state, ops.days_overdue) == ("overdue", 31)
    kinds = {(p.kind, p.subject) for p in late.problems}
    assert ("overdue_review", "ops") in kinds and ("overdue_review", "lookup") not in kinds
    lookup = next(u for u in late.use_cases if u.name == "lookup")
    assert lookup.missing_owners == ["business", "technical", "data", "escalation"]
    assert ("missing_owner", "lookup") in kinds and ("missing_owner", "ops") not in kinds


def test_use_case_grants_fields_and_pii() -> None:
    ops = next(u for u in build([], []).use_cases if u.name == "ops")
    assert ops.principals == ["bot", "other"]
    assert ops.rules == ["bot-update"]
    assert "propose_update_person" in ops.tools and "get_person" not in ops.tools
    assert (ops.connectors, ops.environments) == (["hubspot"], {"hubspot": "sandbox"})
    contact = next(f for f in ops.fields if (f.connector, f.object) == ("hubspot", "contact"))
    assert contact.writable == ["company", "jobtitle"]
    assert "email" in contact.pii and not contact.pii_unmasked
    assert ops.missing_owners == [] and ops.owners.escalation == "oncall@example.com"

"""`mopsgate review approve|reject|sign|submit` and `mopsgate audit verify`: a decision counts only
when signed with the reviewer's own declared key over this change's plan; every refusal is
audited and changes nothing; an approval edited in the database fails `audit verify`."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner, Result

from mopsgate.governance.change_model import (
    ApprovalsRequired,
    Change,
    ChangeStatus,
    FieldChange,
    Plan,
    PlannedRecord,
    new_change,
    utcnow,
)
from mopsgate.governance.decision_statement import new_statement
from mopsgate.governance.manifest_load import load_manifest, manifest_digest
from mopsgate.governance.reviewer_keys import sign
from mopsgate.governance.risk import RiskClass
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings, ensure_home
from tests.conftest import audit_rows
from tests.support.changes import stored_change, with_storage
from tests.support.reviewers import reviewer_key

runner = CliRunner()


def cli(settings: Settings, *args: str) -> Result:
    where = ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    return runner.invoke(app, [*args, *where])


def proposed(settings: Settings, risk: RiskClass = RiskClass.UPDATE_FIELDS) -> Change:
    ensure_home(settings)
    manifest = load_manifest(settings.manifest_path, build_catalogue())
    record = PlannedRecord(
        ref="hubspot:contact:1001",
        action="update",
        changes=[FieldChange(field="jobtitle", before="Engineer", after="Manager")],
    )
    change = new_change(
        requester="assistant",
        tool="propose_update_person",
        risk_class=risk,
        reason="tidy titles",
        plan=Plan(operation="update_fields", connector="hubspot", records=[record]),
        manifest_digest=manifest_digest(manifest),
        approvals_required=ApprovalsRequired(count=1, rule_id="test"),
    )
    return with_storage(settings, lambda s: s.changes.insert(change))


def refusal_row(settings: Settings, action: str = "approve") -> dict[str, object]:
    rows = [r for r in audit_rows(settings) if r["tool"] == f"review {action}"]
    assert rows, "the refusal is not in the audit log"
    row = rows[-1]
    assert row["outcome"] == "refused" and row["decision"] == "denied"
    return row


def test_approve_signs_and_records_the_key_fingerprint(settings: Settings) -> None:
    change = proposed(settings)
    result = cli(
        settings, "review", "approve", change.id, "--reviewer", "mops-lead", "--note", "ok"
    )
    assert result.exit_code == 0, result.output
    (approval,) = stored_change(settings, change.id).approvals
    assert approval.proof is not None
    assert approval.proof.statement.plan_digest == change.plan_digest
    row = [r for r in audit_rows(settings) if r["tool"] == "review approve"][-1]
    arguments = json.loads(str(row["arguments"]))
    assert arguments["key_fingerprint"] == approval.proof.fingerprint
    assert arguments["statement_sha256"] == approval.proof.statement.digest_hex()
    verify = runner.invoke(app, ["audit", "verify", "--home", str(settings.home)])
    assert verify.exit_code == 0, verify.output
    assert "1 decisions, every signature verifies" in verify.output


def test_approve_without_a_key_is_refused_and_audited(
    settings: Settings, reviewer_config: Path
) -> None:
    change = proposed(settings)
    (reviewer_config / "mopsgate" / "reviewers" / "mops-lead.pem").unlink()
    result = cli(settings, "review", "approve", change.id, "--reviewer", "mops-lead")
    assert result.exit_code == 1
    assert "no usable signing key" in result.output
    assert "a typed reviewer name proves nothing" in result.output
    assert refusal_row(settings)["error_code"] == "no_key"
    assert stored_change(settings, change.id).status is ChangeStatus.PROPOSED


def test_approve_with_another_reviewers_key_is_refused_and_audited(
    settings: Settings, reviewer_config: Path
) -> None:
    change = proposed(settings)
    theirs = reviewer_config / "mopsgate" / "reviewers" / "mops-lead.pem"
    result = cli(
        settings, "review", "approve", change.id, "--reviewer", "compliance", "--key", str(theirs)
    )
    assert result.exit_code == 1
    assert "is mops-lead's, not compliance's" in result.output
    assert refusal_row(settings)["error_code"] == "foreign_key"
    assert stored_change(settings, change.id).approvals == []


def test_a_tampered_signature_or_statement_is_refused_and_audited(
    settings: Settings, tmp_path: Path
) -> None:
    change = proposed(settings)
    out = tmp_path / "decision.json"
    signed = cli(
        settings, "review", "sign", change.id, "--reviewer", "mops-lead",
        "--decision", "approve", "--note", "fine", "-o", str(out),
    )  # fmt: skip
    assert signed.exit_code == 0, signed.output
    original = json.loads(out.read_text())
    for edit in ("signature", "note"):
        data = json.loads(json.dumps(original))
        if edit == "signature":
            sig = data["proof"]["signature"]
            data["proof"]["signature"] = ("B" if sig[0] == "A" else "A") + sig[1:]
        else:
            data["statement"]["note"] = "fine, and also delete everyone"
        out.write_text(json.dumps(data))
        result = cli(settings, "review", "submit", str(out))
        assert result.exit_code == 1, result.output
        assert "signature is not valid" in result.output
        assert refusal_row(settings)["error_code"] == "bad_signature"
    assert stored_change(settings, change.id).approvals == []
    out.write_text(json.dumps(original))  # the untouched one is recorded
    assert cli(settings, "review", "submit", str(out)).exit_code == 0


def test_a_signature_over_another_plan_is_refused_and_audited(
    settings: Settings, tmp_path: Path
) -> None:
    change = proposed(settings)
    manifest = load_manifest(settings.manifest_path, build_catalogue())
    statement = new_statement(
        change_id=change.id,
        plan_digest="f" * 64,
        manifest_digest=manifest_digest(manifest),
        decision="approve",
        reviewer="mops-lead",
        note="",
        checklist={},
        at=utcnow(),
    )
    out = tmp_path / "decision.json"
    out.write_text(sign(statement, reviewer_key("mops-lead")).model_dump_json())
    result = cli(settings, "review", "submit", str(out))
    assert result.exit_code == 1
    assert "the reviewer did not sign this diff" in result.output
    assert refusal_row(settings)["error_code"] == "plan_digest_mismatch"
    assert stored_change(settings, change.id).approvals == []


def test_an_old_signed_statement_cannot_be_replayed(settings: Settings, tmp_path: Path) -> None:
    change = proposed(settings)
    manifest = load_manifest(settings.manifest_path, build_catalogue())
    statement = new_statement(
        change_id=change.id,
        plan_digest=change.plan_digest,
        manifest_digest=manifest_digest(manifest),
        decision="approve",
        reviewer="mops-lead",
        note="",
        checklist={},
        at=utcnow() - timedelta(hours=2),
    )
    out = tmp_path / "decision.json"
    out.write_text(sign(statement, reviewer_key("mops-lead")).model_dump_json())
    assert cli(settings, "review", "submit", str(out)).exit_code == 1
    assert refusal_row(settings)["error_code"] == "statement_expired"


def test_reject_is_signed_too(settings: Settings) -> None:
    change = proposed(settings)
    result = cli(
        settings, "review", "reject", change.id, "--reviewer", "compliance", "--reason", "wrong"
    )
    assert result.exit_code == 0, result.output
    rejection = stored_change(settings, change.id).rejection
    assert rejection is not None and rejection.proof is not None
    assert rejection.proof.statement.decision == "reject"


def _edit(settings: Settings, sql: str, *params: str) -> None:
    conn = sqlite3.connect(settings.db_path)
    try:
        conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


def test_an_approval_edited_in_the_database_fails_audit_verify(settings: Settings) -> None:
    first, second = proposed(settings), proposed(settings)
    for change in (first, second):
        ok = cli(settings, "review", "approve", change.id, "--reviewer", "mops-lead")
        assert ok.exit_code == 0, ok.output
    rejected = proposed(settings)
    assert (
        cli(
            settings, "review", "reject", rejected.id, "--reviewer", "compliance", "--reason", "no"
        ).exit_code
        == 0
    )
    verify = ["audit", "verify", "--home", str(settings.home)]
    assert runner.invoke(app, verify).exit_code == 0

    _edit(settings, "UPDATE approvals SET reviewer = 'compliance' WHERE change_id = ?", first.id)
    _edit(settings, "UPDATE approvals SET note = 'in the meeting' WHERE change_id = ?", second.id)
    _edit(
        settings,
        "UPDATE changes SET data = json_set(data, '$.rejection.reason', 'duplicate') WHERE id = ?",
        rejected.id,
    )
    result = runner.invoke(app, verify)
    assert result.exit_code == 1
    assert f"approve of {first.id} by compliance" in result.output
    assert "the stored reviewer differ(s) from the signed statement" in result.output
    assert f"approve of {second.id}" in result.output and "stored note" in result.output
    assert f"reject of {rejected.id}" in result.output


def test_an_approval_inserted_without_proof_fails_audit_verify(settings: Settings) -> None:
    change = proposed(settings)
    _edit(
        settings,
        "INSERT INTO approvals (change_id, reviewer, roles, note, at) "
        "VALUES (?, 'compliance', '[]', '', '2026-01-01T00:00:00+00:00')",
        change.id,
    )
    result = runner.invoke(app, ["audit", "verify", "--home", str(settings.home)])
    assert result.exit_code == 1
    assert "no signed statement is stored (a typed name proves nothing)" in result.output

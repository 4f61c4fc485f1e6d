"""A decision stands only with its audit row, and every refused decision has one.

The audit log is made unwritable the way a broken disk or a locked-down table would make it —
a trigger on ``audit_log`` that aborts every insert — so the decision's own transaction fails
at its row: the approval (or rejection) must not be stored, and the reviewer is told. Once the
log can be written again, the same decision goes through with exactly one row. Failures that
are not governance refusals (a note too long to sign, a file that is no signed decision) are
refused and audited like any other, not left to escape as a traceback."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from mopsgate.governance.change_model import ChangeStatus
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.support.changes import stored_change
from tests.test_cli_signed_decisions import cli, proposed, refusal_row, runner

DOWN = (
    "CREATE TRIGGER audit_down BEFORE INSERT ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
)


def sql(settings: Settings, statement: str) -> None:
    conn = sqlite3.connect(settings.db_path)
    try:
        conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def test_no_decision_stands_without_its_audit_row(settings: Settings) -> None:
    change = proposed(settings)
    other = proposed(settings)
    sql(settings, DOWN)
    approved = cli(settings, "review", "approve", change.id, "--reviewer", "mops-lead")
    rejected = cli(
        settings, "review", "reject", other.id, "--reviewer", "mops-lead", "--reason", "no"
    )
    for result in (approved, rejected):
        assert result.exit_code == 1
        assert "The audit log could not be written" in result.output
    assert stored_change(settings, change.id).approvals == []
    assert stored_change(settings, change.id).status is ChangeStatus.PROPOSED
    assert stored_change(settings, other.id).status is ChangeStatus.PROPOSED
    assert stored_change(settings, other.id).rejection is None
    assert [r for r in audit_rows(settings) if r["tool"].startswith("review ")] == []

    sql(settings, "DROP TRIGGER audit_down")
    again = cli(settings, "review", "approve", change.id, "--reviewer", "mops-lead")
    assert again.exit_code == 0, again.output
    assert stored_change(settings, change.id).status is ChangeStatus.APPROVED
    rows = [r for r in audit_rows(settings) if r["tool"] == "review approve"]
    assert [(r["outcome"], r["change_id"]) for r in rows] == [("ok", change.id)]
    verify = runner.invoke(app, ["audit", "verify", "--home", str(settings.home)])
    assert verify.exit_code == 0, verify.output


def test_a_decision_that_cannot_be_signed_is_refused_and_audited(settings: Settings) -> None:
    change = proposed(settings)
    result = cli(
        settings, "review", "approve", change.id, "--reviewer", "mops-lead", "--note", "x" * 2001
    )
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)  # no traceback
    assert "the decision cannot be made" in result.output
    assert refusal_row(settings)["error_code"] == "invalid_input"
    assert stored_change(settings, change.id).approvals == []


def test_submitting_something_that_is_no_signed_decision_is_audited(
    settings: Settings, tmp_path: Path
) -> None:
    proposed(settings)
    bogus = tmp_path / "decision.json"
    bogus.write_text(json.dumps({"statement": {}, "proof": {}}), encoding="utf-8")
    result = cli(settings, "review", "submit", str(bogus))
    assert result.exit_code == 1 and "is not a signed decision" in result.output
    row = refusal_row(settings, "submit")
    assert row["error_code"] == "invalid_input" and str(bogus) in str(row["arguments"])

"""`mopsgate review approve|reject|sign|show` check who the reviewer is before anything about
the change: a name the manifest does not list learns that, and nothing about which changes
exist; the refusal is audited and changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mopsgate.governance.change_model import ChangeStatus
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.support.changes import stored_change
from tests.test_cli_signed_decisions import proposed  # a stored change awaiting review

NOT_A_REVIEWER = "'nobody' is not a reviewer; ask the manifest owner to add [reviewers.nobody]"
ACTIONS = {
    "approve": ["--note", "ok"],
    "reject": ["--reason", "wrong list"],
    "sign": ["--decision", "approve"],
}


def cli(settings: Settings, *args: str) -> Result:
    where = ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    return CliRunner().invoke(app, ["review", *args, *where])


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_an_unknown_reviewer_is_told_so_before_an_unknown_change(
    settings: Settings, action: str
) -> None:
    proposed(settings)  # the state directory exists and holds a change, just not this one
    result = cli(settings, action, "chg_000000000000", "--reviewer", "nobody", *ACTIONS[action])
    assert result.exit_code == 1
    assert NOT_A_REVIEWER in result.output
    assert "no change" not in result.output and "chg_000000000000" not in result.output


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_the_refusal_is_audited_and_changes_nothing(settings: Settings, action: str) -> None:
    change = proposed(settings)
    result = cli(settings, action, change.id, "--reviewer", "nobody", *ACTIONS[action])
    assert result.exit_code == 1 and NOT_A_REVIEWER in result.output
    stored = stored_change(settings, change.id)
    assert stored.status is ChangeStatus.PROPOSED and not stored.approvals
    row = [r for r in audit_rows(settings) if r["tool"] == f"review {action}"][-1]
    assert (row["decision"], row["outcome"], row["principal"]) == ("denied", "refused", "nobody")
    assert row["error_code"] == "reviewer_not_allowed"


def test_an_ai_principal_named_as_reviewer_is_told_principals_cannot_review(
    settings: Settings,
) -> None:
    proposed(settings)
    result = cli(settings, "approve", "chg_000000000000", "--reviewer", "assistant")
    assert result.exit_code == 1
    assert "'assistant' is an AI principal in the manifest" in result.output
    assert "no change" not in result.output


def test_show_checks_the_reviewer_before_the_change(settings: Settings) -> None:
    proposed(settings)
    result = cli(settings, "show", "chg_000000000000", "--reviewer", "nobody")
    assert result.exit_code == 1
    assert "'nobody' is not a reviewer" in result.output
    assert "no change" not in result.output


def test_a_known_reviewer_still_learns_the_change_is_unknown(settings: Settings) -> None:
    proposed(settings)
    result = cli(settings, "approve", "chg_000000000000", "--reviewer", "mops-lead")
    assert result.exit_code == 1
    assert "there is no change 'chg_000000000000'" in result.output


def run(settings: Settings, *args: str) -> Result:
    where = ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    return CliRunner().invoke(app, [*args, *where])


def test_exception_grant_and_revoke_check_the_reviewer_first(settings: Settings) -> None:
    proposed(settings)
    grant = run(
        settings, "exception", "grant", "--use-case", "no-such-use-case",
        "--what", "tool:get_consent_state", "--expires", "7d", "--reviewer", "nobody",
        "--ticket", "RISK-1", "--reason", "quarter-end audit",
    )  # fmt: skip
    assert grant.exit_code == 1 and NOT_A_REVIEWER in grant.output
    assert "use case" not in grant.output  # neither that it is unknown nor which exist
    revoke = run(settings, "exception", "revoke", "exc_000000000000", "--reviewer", "nobody",
                 "--reason", "done")  # fmt: skip
    assert revoke.exit_code == 1 and NOT_A_REVIEWER in revoke.output
    assert "no exception" not in revoke.output
    rows = [r for r in audit_rows(settings) if r["tool"] in ("exception grant", "exception revoke")]
    assert [(r["principal"], r["decision"]) for r in rows] == [("nobody", "denied")] * 2


def test_manifest_approve_checks_the_reviewer_first(settings: Settings) -> None:
    proposed(settings)
    result = run(settings, "manifest", "approve", "3f2a9c81d0b4", "--reviewer", "nobody")
    assert result.exit_code == 1 and NOT_A_REVIEWER in result.output
    assert "no recorded manifest" not in result.output
    row = [r for r in audit_rows(settings) if r["tool"] == "manifest approve"][-1]
    assert (row["principal"], row["outcome"]) == ("nobody", "denied")


def test_audit_checkpoint_checks_the_reviewer_first(settings: Settings, tmp_path: Path) -> None:
    proposed(settings)
    result = CliRunner().invoke(
        app,
        ["audit", "checkpoint", "--reviewer", "nobody", "--out", str(tmp_path / "cp.json"),
         "--home", str(settings.home)],
        env={"MOPSGATE_MANIFEST": str(settings.manifest_path)},
    )  # fmt: skip
    assert result.exit_code == 1 and NOT_A_REVIEWER in result.output
    assert "no key" not in result.output and not (tmp_path / "cp.json").exists()

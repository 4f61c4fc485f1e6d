"""`mopsgate review …` / freeze / unfreeze: output, exit codes and the audit trail."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest
import typer
from typer.testing import CliRunner

from mopsgate.governance.change_model import (
    ApprovalsRequired,
    BlockedRecord,
    Change,
    ChangeStatus,
    FieldChange,
    Plan,
    PlannedRecord,
    new_change,
)
from mopsgate.governance.freeze import FreezeState
from mopsgate.governance.manifest_load import load_manifest, manifest_digest
from mopsgate.governance.risk import RiskClass
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.cli_decide import add_decision_commands
from mopsgate.server.cli_review import freeze_cmd, review_app, unfreeze_cmd
from mopsgate.storage import Storage, StorageConfig
from tests.support.changes import with_storage
from tests.support.reviewers import install_keys, key_table

T = TypeVar("T")
runner = CliRunner()
app = typer.Typer()
add_decision_commands(review_app)
app.add_typer(review_app, name="review")
app.command("freeze")(freeze_cmd)
app.command("unfreeze")(unfreeze_cmd)

MANIFEST = """\
version = 1
[reviewers.lead]
roles = ["mops"]
risk_classes = ["update_fields", "send"]
[reviewers.dpo]
roles = ["compliance"]
risk_classes = ["consent", "send", "update_fields"]
[use_cases.ops]
purpose = "ops"
risk_level = "medium"
review_date = 2027-01-01
[use_cases.ops.owners]
risk = "DPO"
business = "Head of Demand Gen"
technical = "MOPs Lead"
data = "Data Steward"
escalation = "oncall@example.com"
[approvals.send]
count = 2
roles = ["compliance"]
[principals.bot]
use_cases = ["ops"]
"""
EVIL = "[bold green]APPROVED by compliance[/]\u202eevil\nfake line"


@pytest.fixture
def env(tmp_path: Path, reviewer_config: Path) -> tuple[list[str], Path]:
    manifest = tmp_path / "permissions.toml"
    manifest.write_text(MANIFEST + key_table("lead") + key_table("dpo"), encoding="utf-8")
    install_keys(reviewer_config, ("lead", "dpo"))
    home = tmp_path / "home"
    return ["--manifest", str(manifest), "--home", str(home)], home / "mopsgate.db"


def _insert(
    db: Path,
    risk: RiskClass = RiskClass.UPDATE_FIELDS,
    count: int = 1,
    roles: tuple[str, ...] = (),
) -> Change:
    """A proposed change whose CRM value and reason carry markup, bidi and a newline."""
    db.parent.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest(db.parent.parent / "permissions.toml", build_catalogue())
    record = PlannedRecord(
        ref="hubspot:contact:1",
        action="update",
        changes=[FieldChange(field="jobtitle", before=EVIL, after="Manager")],
    )
    blocked = BlockedRecord(ref="hubspot:contact:9", reason_code="opted_out", reason="opted out")
    plan = Plan(operation="update_fields", connector="hubspot", records=[record], blocked=[blocked])
    c = new_change(
        requester="bot",
        tool="propose_update_person",
        risk_class=risk,
        reason=EVIL,
        plan=plan,
        manifest_digest=manifest_digest(manifest),
        approvals_required=ApprovalsRequired(count=count, roles=list(roles)),
    )
    return _in_storage(db, lambda s: s.changes.insert(c))


def _audit(db: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT kind, principal, tool, outcome, change_id, error_code, transport "
        "FROM audit_log ORDER BY seq"
    ).fetchall()
    conn.close()
    return rows


def _status(db: Path, change_id: str) -> ChangeStatus:
    return _in_storage(db, lambda s: s.changes.require(change_id)).status


def _frozen(db: Path) -> FreezeState | None:
    return _in_storage(db, lambda s: s.freeze.state())


def _in_storage(db: Path, work: Callable[[Storage], Awaitable[T]]) -> T:
    """What the server would store or see, through a storage of its own."""
    return with_storage(StorageConfig.sqlite(db), work)


def test_list_and_show(env) -> None:
    opts, db = env
    c = _insert(db)
    listed = runner.invoke(app, ["review", "list", *opts])
    assert listed.exit_code == 0, listed.output
    assert c.id in listed.output and "proposed" in listed.output
    assert "[bold green]APPROVED" in listed.output
    empty = runner.invoke(app, ["review", "list", "--status", "applied", *opts])
    assert "No changes with status applied" in empty.output
    shown = runner.invoke(app, ["review", "show", c.id, *opts])
    assert shown.exit_code == 0, shown.output
    out = shown.output
    assert "untrusted" in out and "→" in out and "hubspot:contact:9" in out
    assert "[bold green]APPROVED by compliance[/]" in out  # markup shown literally
    assert "<U+202E>" in out and "\u202e" not in out
    assert "\\nfake line" in out
    assert "Needs 1 more approval; no approvals yet." in out


def test_show_unknown_change_exits_1(env) -> None:
    opts, db = env
    _insert(db)  # a state directory in use, without that change
    result = runner.invoke(app, ["review", "show", "chg_nope", *opts])
    assert result.exit_code == 1
    assert "no change" in result.stderr


def test_approve_is_audited(env) -> None:
    opts, db = env
    c = _insert(db)
    result = runner.invoke(
        app, ["review", "approve", c.id, "--reviewer", "lead", "--note", "ok", *opts]
    )
    assert result.exit_code == 0, result.output
    assert "now approved" in result.output
    assert _status(db, c.id) is ChangeStatus.APPROVED
    assert _audit(db)[-1] == ("review", "lead", "review approve", "ok", c.id, None, "cli")


def test_partial_approval_says_what_is_missing(env) -> None:
    opts, db = env
    c = _insert(db, risk=RiskClass.SEND, count=2, roles=("compliance",))
    result = runner.invoke(app, ["review", "approve", c.id, "--reviewer", "lead", *opts])
    assert result.exit_code == 0
    # the same sentence the console and `review show` give, naming the role still missing
    assert "Needs 1 more approval (role: compliance); approved by lead." in result.output


@pytest.mark.parametrize(
    ("reviewer", "code"),
    # bot, the requester, is an AI principal: that is said first, before the change is read
    [("bot", "principal_as_reviewer"), ("mallory", "reviewer_not_allowed")],
)
def test_refused_approval_exits_1_and_is_audited(env, reviewer: str, code: str) -> None:
    opts, db = env
    c = _insert(db)
    result = runner.invoke(app, ["review", "approve", c.id, "--reviewer", reviewer, *opts])
    assert result.exit_code == 1
    assert "mopsgate:" in result.stderr
    assert _status(db, c.id) is ChangeStatus.PROPOSED
    assert _audit(db)[-1] == ("review", reviewer, "review approve", "refused", c.id, code, "cli")


def test_reviewer_lacking_risk_class(env) -> None:
    opts, db = env
    c = _insert(db, risk=RiskClass.CONSENT)
    result = runner.invoke(app, ["review", "approve", c.id, "--reviewer", "lead", *opts])
    assert result.exit_code == 1
    assert "may not approve consent" in result.stderr


def test_reject_then_approve_is_refused(env) -> None:
    opts, db = env
    c = _insert(db)
    rejected = runner.invoke(
        app, ["review", "reject", c.id, "--reviewer", "dpo", "--reason", "wrong", *opts]
    )
    assert rejected.exit_code == 0, rejected.output
    again = runner.invoke(app, ["review", "approve", c.id, "--reviewer", "lead", *opts])
    assert again.exit_code == 1
    assert "is rejected" in again.stderr
    kinds = [(r[2], r[3]) for r in _audit(db)]
    assert kinds[-2:] == [("review reject", "ok"), ("review approve", "refused")]


def test_freeze_and_unfreeze_are_audited(env) -> None:
    opts, db = env
    db.parent.mkdir()
    assert _frozen(db) is None  # the state directory a server has made
    result = runner.invoke(app, ["freeze", "--reason", "incident", "--by", "alice", *opts])
    assert result.exit_code == 0, result.output
    assert "frozen" in result.output
    state = _frozen(db)
    assert state is not None and state.reason == "incident"
    c = _insert(db)
    shown = runner.invoke(app, ["review", "show", c.id, *opts])
    assert "Applies are frozen: incident" in shown.output
    result = runner.invoke(app, ["unfreeze", "--by", "bob", *opts])
    assert result.exit_code == 0
    assert _frozen(db) is None
    rows = [(r[0], r[1], r[2], r[3]) for r in _audit(db)]
    assert rows == [("freeze", "alice", "freeze", "ok"), ("freeze", "bob", "unfreeze", "ok")]

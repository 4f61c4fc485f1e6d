"""`mopsgate audit …` as an auditor runs it."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.server.cli_audit import audit_app
from mopsgate.storage import StorageConfig, append_once

runner = CliRunner()
WIDE = {"COLUMNS": "200"}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "state"
    home.mkdir()
    db = home / "mopsgate.db"
    events = [
        AuditEvent(
            kind="tool_call",
            principal="alice",
            transport="stdio",
            tool="hubspot.search_contacts",
            connector="hubspot",
            decision="allowed",
            rule_id="read-contacts",
            arguments={"query": "jane@acme.com"},
        ),
        AuditEvent(
            kind="tool_call",
            principal="alice",
            tool="hubspot.delete_contacts",
            connector="hubspot",
            decision="denied",
            rule_id="deny-delete",
            outcome="denied",
        ),
        AuditEvent(kind="review", principal="bob", transport="cli", change_id="chg_7"),
    ]
    for event in events:
        asyncio.run(append_once(StorageConfig.sqlite(db), event))
    return home


def test_verify_ok(home: Path) -> None:
    result = runner.invoke(audit_app, ["verify", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK: 3 rows, chain intact (head ")


def test_verify_tampered_names_the_row_and_exits_1(home: Path) -> None:
    with sqlite3.connect(home / "mopsgate.db") as conn:
        conn.execute("UPDATE audit_log SET decision = 'allowed' WHERE seq = 2")
    result = runner.invoke(audit_app, ["verify", "--home", str(home)])
    assert result.exit_code == 1
    assert "TAMPERED: first bad row seq=2:" in result.output


def test_missing_db_is_a_clear_error(tmp_path: Path) -> None:
    for args in (["verify"], ["tail"], ["export", "--format", "jsonl"]):
        result = runner.invoke(audit_app, [*args, "--home", str(tmp_path / "nowhere")])
        assert result.exit_code == 1
        assert "No audit log at" in result.output


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "mopsgate.db").write_text("hello")
    result = runner.invoke(audit_app, ["verify", "--home", str(tmp_path)])
    assert result.exit_code == 1
    assert "Cannot read the audit log" in result.output


def test_tail_shows_who_did_what(home: Path) -> None:
    result = runner.invoke(audit_app, ["tail", "-n", "2", "--home", str(home)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "hubspot.delete_contacts" in result.output and "deny-delete" in result.output
    assert "chg_7" in result.output and "review" in result.output
    assert "hubspot.search_contacts" not in result.output  # only the last 2


def test_export_jsonl_to_stdout_and_file(home: Path, tmp_path: Path) -> None:
    result = runner.invoke(audit_app, ["export", "--format", "jsonl", "--home", str(home)])
    assert result.exit_code == 0
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["seq"] for r in lines] == [1, 2, 3]
    assert lines[0]["arguments"] == {"query": "j***@acme.com"}
    out = tmp_path / "audit.jsonl"
    result = runner.invoke(audit_app, ["export", "--output", str(out), "--home", str(home)])
    assert result.exit_code == 0
    assert len(out.read_text().splitlines()) == 3
    bad = runner.invoke(audit_app, ["export", "--format", "csv", "--home", str(home)])
    assert bad.exit_code == 2

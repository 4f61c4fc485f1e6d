"""One server on PostgreSQL as a user meets it: MOPSGATE_DATABASE_URL puts every call's audit
row, the change and its approvals in the shared database (nothing in the state directory's
SQLite file); propose → approve (CLI) → apply works as on SQLite; and with a shared database
the confirmation-token secret must be a shared file, or the server refuses to start."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.conftest import text_of
from tests.server.e2e_support import VENDORS, approve, subscribed_outside_list
from tests.support.postgres import replica_settings


@pytest.fixture
def settings(
    tmp_path: Path, manifest_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("MOPSGATE_DATABASE_URL", pg_url)  # for the reviewers' and ops' CLI
    return replica_settings(tmp_path, manifest_path, pg_url)


def pg_rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql.encode()).fetchall()


async def test_propose_approve_apply_keeps_everything_in_postgres(
    connect, runtime, settings: Settings, pg_url: str
):
    v = VENDORS["hubspot"]
    emu = runtime.connectors.emulator(v.name)
    refs = [v.ref(i) for i in subscribed_outside_list(v.list_idx, 2)]
    async with connect("assistant") as client:
        proposed = await client.call_tool(
            "propose_update_person",
            {"refs": refs, "fields": {v.title_field: "Shared"}, "reason": "Fix titles now"},
        )
        assert not proposed.is_error, text_of(proposed)
        plan = proposed.structured_content
        approve(settings, plan["change_id"])
        args = {"change_id": plan["change_id"], "confirmation_token": plan["confirmation_token"]}
        applied = await client.call_tool("apply_change", args)
        assert not applied.is_error, text_of(applied)
        again = await client.call_tool("apply_change", args)
    assert again.is_error and "already been used" in text_of(again)
    assert {emu.person_fields(v.native_of(r))[v.title_field] for r in refs} == {"Shared"}
    assert pg_rows(pg_url, "SELECT status FROM changes") == [("applied",)]
    assert pg_rows(pg_url, "SELECT count(*) FROM approvals") == [(1,)]
    tools = [r[0] for r in pg_rows(pg_url, "SELECT tool FROM audit_log ORDER BY seq")]
    assert tools.count("apply_change") >= 2 and "propose_update_person" in tools
    assert not (settings.home / "mopsgate.db").exists()
    verify = CliRunner().invoke(
        app,
        ["audit", "verify", "--home", str(settings.home), "--database-url", pg_url],
    )
    assert verify.exit_code == 0, verify.output


def test_a_shared_database_without_a_shared_secret_refuses_to_start(
    pg_url: str, manifest_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MOPSGATE_DATABASE_URL", pg_url)
    monkeypatch.delenv("MOPSGATE_SIGNING_SECRET_FILE", raising=False)
    args = ["serve", "--principal", "assistant", "--manifest", str(manifest_path)]
    result = CliRunner().invoke(app, [*args, "--home", str(tmp_path / "home")])
    assert result.exit_code == 2
    assert "refusing to start" in result.output
    assert "MOPSGATE_SIGNING_SECRET_FILE" in result.output
    short = tmp_path / "short.key"
    short.write_bytes(b"x" * 8)
    monkeypatch.setenv("MOPSGATE_SIGNING_SECRET_FILE", str(short))
    result = CliRunner().invoke(app, [*args, "--home", str(tmp_path / "home")])
    assert result.exit_code == 2
    assert f"the signing secret {short} is shorter than 32 bytes" in result.output

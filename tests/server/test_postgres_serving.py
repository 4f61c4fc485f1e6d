"""One server on PostgreSQL as a user meets it: MOPSGATE_DATABASE_URL puts every call's audit
row, the change and its approvals in the shared database (nothing in the state directory's
SQLite file); propose → approve (CLI) → apply works as on SQLite; a cancelled apply is settled
and lets go of its change's lock at once; and with a shared database the confirmation-token
secret must be a shared file, or the server refuses to start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest
from mcp import Client
from typer.testing import CliRunner

from mopsgate.server.app import Runtime
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from mopsgate.storage import StorageConfig, open_storage
from tests.conftest import text_of
from tests.server.e2e_support import (
    VENDORS,
    approve,
    cancel_apply_once_written,
    subscribed_outside_list,
)
from tests.support.postgres import replica_settings

LOCK_KEY = "hashtextextended('mopsgate.apply:' || %s, 0)"  # storage/postgres/apply_lock.py


@pytest.fixture
def settings(
    tmp_path: Path, manifest_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("MOPSGATE_DATABASE_URL", pg_url)  # for the reviewers' and ops' CLI
    return replica_settings(tmp_path, manifest_path, pg_url)


def pg_rows(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql.encode()).fetchall()


async def propose_approved(
    client: Client, settings: Settings, refs: list[str], title: str
) -> dict[str, Any]:
    """A change setting the HubSpot people's title, proposed and approved: its plan."""
    proposed = await client.call_tool(
        "propose_update_person",
        {"refs": refs, "fields": {"jobtitle": title}, "reason": "Fix titles now"},
    )
    assert not proposed.is_error, text_of(proposed)
    plan: dict[str, Any] = proposed.structured_content or {}
    approve(settings, plan["change_id"])
    return plan


async def test_propose_approve_apply_keeps_everything_in_postgres(
    connect, runtime, settings: Settings, pg_url: str
):
    v = VENDORS["hubspot"]
    emu = runtime.connectors.emulator(v.name)
    refs = [v.ref(i) for i in subscribed_outside_list(v.list_idx, 2)]
    async with connect("assistant") as client:
        plan = await propose_approved(client, settings, refs, "Shared")
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


def lock_is_free(url: str, change_id: str) -> bool:
    """Whether another session can take the change's apply lock right now (let go at once)."""
    with psycopg.connect(url, autocommit=True) as conn:
        taken = conn.execute(f"SELECT pg_try_advisory_lock({LOCK_KEY})", (change_id,)).fetchone()
        if taken is not None and taken[0]:
            conn.execute(f"SELECT pg_advisory_unlock({LOCK_KEY})", (change_id,))
            return True
        return False


async def test_a_cancelled_apply_is_settled_and_lets_go_of_its_lock_at_once(
    connect, runtime: Runtime, settings: Settings, pg_url: str
):
    """An apply holds its change's advisory lock so that no other replica settles a change it
    is still writing. Cancelled (the client gave up, or its connection dropped) it settles the
    change itself, re-reading what has no result, and then lets go: it used to keep the lock
    until the process exited, and later to leave the change ``applying`` for another replica's
    recovery."""
    v = VENDORS["hubspot"]
    emu = runtime.connectors.emulator(v.name)
    refs = [v.ref(i) for i in subscribed_outside_list(v.list_idx, 2, start=40)]
    async with connect("assistant") as client:
        plan = await propose_approved(client, settings, refs, "Cancelled")
        change_id = plan["change_id"]
        args = {"change_id": change_id, "confirmation_token": plan["confirmation_token"]}
        await cancel_apply_once_written(client, emu, args)
        rows = "SELECT outcome FROM audit_log WHERE tool = 'apply_change' AND kind = 'tool_call'"
        with anyio.fail_after(20):  # the server ends the call after the client stopped waiting
            while pg_rows(pg_url, rows) != [("cancelled",)]:
                await anyio.sleep(0.02)
        assert lock_is_free(pg_url, change_id)  # while this server still runs
        assert pg_rows(pg_url, "SELECT status FROM changes") == [("applied",)]
        assert pg_rows(pg_url, "SELECT count(*) FROM audit_log WHERE kind = 'recovery'") == [(1,)]
        other = await open_storage(StorageConfig(pg_url))  # another replica, starting up
        try:
            assert await other.changes.interrupted_ids() == []  # nothing left to settle
        finally:
            await other.close()
    assert len(emu.core.write_requests) == 1


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

"""Several mopsgate replicas on one PostgreSQL database, end to end (issue #12, item 2): the
acceptance race (8 concurrent applies of one change from 2 processes apply it once), a replica
whose manifest differs from the one a change was planned under refuses to apply it, and a
freeze from the CLI is seen by a running replica before its next apply.

A replica is a whole runtime (manifest, connectors, storage): in another process
(``tests/support/replica.py``) where the race is the point, in this process otherwise. All of
them share the database and the signing secret file, as a deployment does; each has its own
in-memory HubSpot emulator, so the vendor writes a replica made are counted per process.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from typer.testing import CliRunner

from mopsgate.server.app import build_runtime, build_server
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from mopsgate.storage import StorageConfig, audit_reader
from tests.conftest import text_of
from tests.server.e2e_support import VENDORS, approve, subscribed_outside_list
from tests.server.test_postgres_serving import pg_rows
from tests.support.cli_forks import cli_forks
from tests.support.postgres import replica_settings

V = VENDORS["hubspot"]


@pytest.fixture
def settings(
    tmp_path: Path, manifest_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("MOPSGATE_DATABASE_URL", pg_url)  # for the reviewers' and ops' CLI
    return replica_settings(tmp_path, manifest_path, pg_url)


@pytest.fixture
async def second_replica(
    settings: Settings, tmp_path: Path
) -> AsyncIterator[Callable[[Path | None], Client]]:
    """``second_replica(manifest)``: a client of another runtime on the same database (with
    its own manifest file, if given)."""

    def connect(manifest: Path | None = None) -> Client:
        own = Settings(
            manifest_path=manifest or settings.manifest_path,
            home=tmp_path / "home-2",
            sandbox="memory",
            database_url=settings.database_url,
            secret_file=settings.secret_file,
        )
        runtime = build_runtime(own, env={})
        server = build_server(runtime, transport="memory", resolve_principal=lambda _c: "assistant")
        return Client(server)

    yield connect


async def propose_approved(connect: Callable[..., Client], settings: Settings) -> dict[str, Any]:
    refs = [V.ref(i) for i in subscribed_outside_list(V.list_idx, 2)]
    async with connect("assistant") as client:
        proposed = await client.call_tool(
            "propose_update_person",
            {"refs": refs, "fields": {V.title_field: "Replicated"}, "reason": "Fix titles now"},
        )
    assert not proposed.is_error, text_of(proposed)
    plan: dict[str, Any] = proposed.structured_content or {}
    approve(settings, plan["change_id"])
    return plan


async def other_process(command: str, **args: object) -> dict[str, Any]:
    """``tests/support/replica.py`` in a process of its own (forked by the fork server:
    tests/support/cli_forks.py); what it printed."""
    forks = cli_forks()
    proc = await forks.finished(
        forks.start_module("tests.support.replica", [command, json.dumps(args)], os.environ)
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


async def test_eight_applies_from_two_processes_apply_the_change_once(
    connect, settings: Settings, pg_url: str
):
    plan = await propose_approved(connect, settings)
    shared = {
        "manifest_path": str(settings.manifest_path),
        "database_url": pg_url,
        "secret_file": str(settings.secret_file),
    }
    race = {"change_id": plan["change_id"], "token": plan["confirmation_token"], "n": 4}
    first, second = await asyncio.gather(
        other_process("apply", settings={**shared, "home": str(settings.home / "r1")}, **race),
        other_process("apply", settings={**shared, "home": str(settings.home / "r2")}, **race),
    )
    answers = first["answers"] + second["answers"]
    wins = [a for a in answers if not a["error"]]
    assert len(answers) == 8 and len(wins) == 1, answers
    losers = [a["text"] for a in answers if a["error"]]
    assert all(("applying" in t or "already been used" in t or "applied" in t) for t in losers)
    # Only the winner's process wrote to its vendor, once (two records: one batch).
    assert sorted([first["vendor_writes"], second["vendor_writes"]]) == [0, 1]
    assert pg_rows(pg_url, "SELECT status FROM changes") == [("applied",)]
    applies = pg_rows(
        pg_url, "SELECT outcome FROM audit_log WHERE tool = 'apply_change' AND kind = 'tool_call'"
    )
    assert sorted(str(r[0]) for r in applies) == ["error"] * 7 + ["ok"]
    verified = await audit_reader(StorageConfig(pg_url)).verify()
    assert verified.ok, verified


async def test_a_replica_under_another_manifest_refuses_to_apply(
    connect, second_replica, settings: Settings, tmp_path: Path
):
    plan = await propose_approved(connect, settings)
    changed = tmp_path / "changed.toml"
    changed.write_text(
        settings.manifest_path.read_text().replace(
            "calls_per_minute = 120", "calls_per_minute = 60"
        )
    )
    args = {"change_id": plan["change_id"], "confirmation_token": plan["confirmation_token"]}
    async with second_replica(changed) as client:
        refused = await client.call_tool("apply_change", args)
        assert refused.is_error and "manifest" in text_of(refused)
        change = await client.call_tool("get_change", {"change_id": plan["change_id"]})
    assert (change.structured_content or {})["status"] == "stale"  # never applied after


async def test_a_freeze_from_the_cli_is_seen_by_a_running_replica_before_its_next_apply(
    connect, second_replica, settings: Settings
):
    plan = await propose_approved(connect, settings)
    args = {"change_id": plan["change_id"], "confirmation_token": plan["confirmation_token"]}
    async with second_replica(None) as client:
        await client.call_tool("whoami", {})  # running, storage open
        home = ["--home", str(settings.home), "--manifest", str(settings.manifest_path)]
        frozen = CliRunner().invoke(app, ["freeze", "--reason", "incident 7", *home])
        assert frozen.exit_code == 0, frozen.output
        refused = await client.call_tool("apply_change", args)
        assert refused.is_error and "incident 7" in text_of(refused)
        thawed = CliRunner().invoke(app, ["unfreeze", *home])
        assert thawed.exit_code == 0, thawed.output
        applied = await client.call_tool("apply_change", args)
    assert not applied.is_error, text_of(applied)

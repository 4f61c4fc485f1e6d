"""Faults with several replicas on PostgreSQL (issue #12, item 3).

- A replica killed (SIGKILL) while the vendor writes a batch: another replica that starts while
  the first is still alive leaves the change alone (it is being applied); once the first is
  dead, the next replica to start settles it exactly as on SQLite (``test_crash_recovery``):
  failed (shown as partially applied), with exactly the records the vendor holds, once.
- The database restarted under load: calls fail closed with an error naming the database and
  what to do, every call that was answered has its audit row, and the same running server
  serves again by itself once the database is back; the chain still verifies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import Client

from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.sandbox.hubspot.emulator import HubSpotEmulator
from mopsgate.server.settings import Settings
from mopsgate.storage import StorageConfig, audit_reader
from tests.conftest import text_of
from tests.server.e2e_support import approve
from tests.server.loopback import serving
from tests.server.test_changes_kit import REASON, people
from tests.server.test_crash_recovery import (
    BATCH,
    NEW,
    REFUSED,
    HoldBatch,
    _env,
    _production_hubspot,
)
from tests.server.test_postgres_serving import pg_rows
from tests.support.postgres import PgServer, replica_settings
from tests.support.stdio_serve import forked_stdio, raw_stdio

N = 150


@pytest.fixture
def settings(
    tmp_path: Path, manifest_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("MOPSGATE_DATABASE_URL", pg_url)  # for the reviewers' CLI
    return replica_settings(tmp_path, manifest_path, pg_url)


@pytest.fixture
def vendor() -> Iterator[tuple[HubSpotEmulator, HoldBatch, str]]:
    """The HubSpot emulator on a free loopback port, shared by every replica, holding batch 2."""
    emu = HubSpotEmulator()
    hold = HoldBatch(emu.app, hold=2)
    with serving(lambda _sock: hold, lifespan="off") as base:
        yield emu, hold, base


async def get_change(env: dict[str, str], change_id: str) -> dict[str, object]:
    """Start a replica (its start-up recovery runs first), ask it for the change, stop it."""
    async with Client(forked_stdio(env)) as client:
        found = await client.call_tool("get_change", {"change_id": change_id})
    assert not found.is_error, text_of(found)
    return dict(found.structured_content or {})


async def test_a_replica_killed_mid_apply_is_settled_once_and_never_by_a_live_one(
    settings: Settings, vendor, pg_url: str
):
    emu, hold, base_url = vendor
    settings.manifest_path.write_text(_production_hubspot(settings.manifest_path.read_text()))
    env = {
        **_env(settings, base_url),
        "MOPSGATE_DATABASE_URL": pg_url,
        "MOPSGATE_SIGNING_SECRET_FILE": str(settings.secret_file),
    }
    idxs = people("any", N, start=1200)
    refs = [hs.person_ref(i) for i in idxs]
    refused = refs[BATCH : BATCH + REFUSED]
    emu.core.faults.fail_record_ids = {hs.person_id(i) for i in idxs[BATCH : BATCH + REFUSED]}
    log = settings.home.parent / "first-replica.log"
    async with raw_stdio(env, cwd=settings.home.parent, log=log, kill=True) as rpc:
        await rpc.open("crash-test")
        plan = await rpc.tool(
            "propose_update_person",
            {"refs": refs, "fields": {"jobtitle": NEW}, "reason": REASON},
        )
        change_id = str(plan["change_id"])
        approve(settings, change_id, "mops-lead")
        approve(settings, change_id, "compliance")
        args = {"change_id": change_id, "confirmation_token": plan["confirmation_token"]}
        await rpc.send("tools/call", {"name": "apply_change", "arguments": args})
        assert await anyio.to_thread.run_sync(hold.written.wait, 120), "batch 2 never came"
        # A second replica starting now must not take the change from the live first one.
        alive = await get_change(env, change_id)
        assert alive["status"] == "applying"
    emu.core.faults.fail_record_ids = set()

    settled = await get_change(env, change_id)  # the next replica to start settles it
    assert settled["status"] == "partially_applied", settled  # stored "failed", never re-applied
    assert settled["outcome"]["counts"] == {  # type: ignore[index]
        "planned": N,
        "written": N - REFUSED,
        "failed": REFUSED,
        "not_attempted": 0,
        "unaccounted": 0,
    }
    again = await get_change(env, change_id)  # and only once
    assert again["outcome"] == settled["outcome"]
    recovery = pg_rows(
        pg_url, "SELECT change_id, outcome FROM audit_log WHERE kind = 'recovery' ORDER BY seq"
    )
    assert recovery == [(change_id, "ok")]
    sent = [hs.person_id(i) for i in idxs]
    assert hold.batches == [sent[:BATCH], sent[BATCH:]]  # nothing written twice
    titles = {
        emu.person_fields(hs.person_id(i)).get("jobtitle")
        for i in idxs
        if hs.person_ref(i) not in refused
    }
    assert titles == {NEW}
    assert (await audit_reader(StorageConfig(pg_url)).verify()).ok


@pytest.mark.timeout(180)  # a server stop and start, on a loaded machine
async def test_database_restart_under_load_fails_closed_and_recovers_by_itself(
    connect, runtime, settings: Settings, pg_server: PgServer, pg_url: str
):
    runtime.audit_busy_ms = 500  # how long a call waits for the database before failing
    answered: list[bool] = []

    async def calls(client: Client, n: int) -> list[str]:
        results = await asyncio.gather(*(client.call_tool("whoami", {}) for _ in range(n)))
        answered.extend(not r.is_error for r in results)
        return [text_of(r) for r in results if r.is_error]

    async with connect("assistant") as client:
        assert await calls(client, 20) == []
        load = asyncio.create_task(calls(client, 40))  # in flight while the database stops
        await anyio.to_thread.run_sync(pg_server.stop)
        during = await calls(client, 10)
        await load
        assert len(during) == 10  # nothing is served without its audit row
        assert all("cannot be reached" in e and "PostgreSQL" in e for e in during), during
        await anyio.to_thread.run_sync(pg_server.start)
        recovered: list[str] = ["not yet"]
        for _ in range(300):  # the pool reconnects by itself; no restart of the server
            recovered = await calls(client, 5)
            if not recovered:
                break
            await asyncio.sleep(0.1)
        assert recovered == []
    rows = pg_rows(
        pg_url, "SELECT count(*) FROM audit_log WHERE tool = 'whoami' AND outcome = 'ok'"
    )
    ok_calls = sum(answered)
    # Every answered call has its row (a commit whose reply was lost with the server may add
    # a row for a call that was refused, never the other way round).
    assert ok_calls <= rows[0][0] <= ok_calls + answered.count(False)  # type: ignore[operator]
    assert (await audit_reader(StorageConfig(pg_url)).verify()).ok

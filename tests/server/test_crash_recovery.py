"""kill -9 while an apply's batch is in flight, then restart (issue #16, item 9).

The crash run killed the server while the vendor was writing a batch: the change ended failed
with the whole batch unaccounted although the vendor had written it. Here the HubSpot emulator
runs in the test process over loopback HTTP, so it outlives the server, which is a real
``mopsgate serve --transport stdio`` subprocess pointed at it as a production connector. The
emulator writes the second batch (less three records it refuses) and never answers; the test
then SIGKILLs the server, starts a new one, and checks the account the restart settles, its
audit row, and that ``propose_finish`` covers exactly the unwritten records and writes them
once.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from mcp import Client

from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.sandbox.hubspot.emulator import HubSpotEmulator
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.server.e2e_support import approve
from tests.server.loopback import serving
from tests.server.test_changes_kit import REASON, people
from tests.support.changes import stored_change
from tests.support.stdio_serve import forked_stdio, mopsgate_env, raw_stdio

NEW = "Written Before The Crash"
N, BATCH, REFUSED = 150, 100, 3  # HubSpot writes 100 per batch: the second batch holds 50


@dataclass
class HoldBatch:
    """In front of the emulator: notes the ids of every batch update, lets the vendor write
    batch number ``hold`` and then never answers it, until its caller has gone."""

    app: Any
    hold: int
    batches: list[list[str]] = field(default_factory=list)
    written: threading.Event = field(default_factory=threading.Event)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].endswith("/contacts/batch/update"):
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.batches.append([str(i["id"]) for i in json.loads(body)["inputs"]])
        replayed = [False]

        async def replay() -> Any:
            if replayed[0]:
                return await receive()
            replayed[0] = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def swallow(_message: Any) -> None:
            return None

        held = len(self.batches) == self.hold
        await self.app(scope, replay, swallow if held else send)
        if held:
            self.written.set()
            while (await receive())["type"] != "http.disconnect":
                pass


@pytest.fixture
def vendor() -> Iterator[tuple[HubSpotEmulator, HoldBatch, str]]:
    """The HubSpot emulator on a free loopback port, in this process, behind ``HoldBatch``."""
    emu = HubSpotEmulator()
    hold = HoldBatch(emu.app, hold=2)
    with serving(lambda _sock: hold, lifespan="off") as base:
        yield emu, hold, base


def _production_hubspot(shipped: str) -> str:
    """The shipped manifest with HubSpot as a production connector (pointed at the loopback
    emulator); production needs one more approval per change, so one more reviewer."""
    text = shipped.replace(
        '[connectors.hubspot]\nenvironment = "sandbox"',
        '[connectors.hubspot]\nenvironment = "production"',
    )
    return text.replace(
        "# --- Use cases",
        '[reviewers.dpo]\nroles = ["compliance"]\nrisk_classes = ["consent", "send"]\n\n'
        "# --- Use cases",
        1,
    )


def _env(settings: Settings, base_url: str) -> dict[str, str]:
    return mopsgate_env(
        settings,
        MOPSGATE_PRINCIPAL="assistant",
        HUBSPOT_ACCESS_TOKEN=hs.SANDBOX_TOKEN,
        HUBSPOT_BASE_URL=base_url,
        HUBSPOT_ALLOWED_HOSTS="127.0.0.1",  # the emulator on loopback (connectors/hosts.py)
    )


async def _propose_then_die_mid_apply(
    settings: Settings, env: dict[str, str], refs: list[str], hold: HoldBatch
) -> str:
    """Propose and get approval through a first server, start the apply, and SIGKILL that
    server once the vendor has written the second batch (whose answer never comes)."""
    log = settings.home.parent / "first-server.log"
    async with raw_stdio(env, cwd=settings.home.parent, log=log, kill=True) as rpc:
        await rpc.open("crash-test")
        plan = await rpc.tool(
            "propose_update_person",
            {"refs": refs, "fields": {"jobtitle": NEW}, "reason": REASON},
        )
        approve(settings, plan["change_id"], "mops-lead")
        approve(settings, plan["change_id"], "compliance")
        await rpc.send(
            "tools/call",
            {
                "name": "apply_change",
                "arguments": {
                    "change_id": plan["change_id"],
                    "confirmation_token": plan["confirmation_token"],
                },
            },
        )
        assert await anyio.to_thread.run_sync(hold.written.wait, 120), "batch 2 never came"
    assert rpc.proc.returncode == -signal.SIGKILL
    return str(plan["change_id"])


async def test_kill_9_mid_batch_then_restart_settles_the_account(settings: Settings, vendor):
    emu, hold, base_url = vendor
    settings.manifest_path.write_text(_production_hubspot(settings.manifest_path.read_text()))
    env = _env(settings, base_url)
    idxs = people("any", N, start=1200)
    refs = [hs.person_ref(i) for i in idxs]
    refused = refs[BATCH : BATCH + REFUSED]  # the vendor refuses these inside batch 2
    emu.core.faults.fail_record_ids = {hs.person_id(i) for i in idxs[BATCH : BATCH + REFUSED]}

    change_id = await _propose_then_die_mid_apply(settings, env, refs, hold)

    # The dead process's account: batch 1 recorded, batch 2 (written upstream) unknown.
    dead = stored_change(settings, change_id)
    assert dead.status == "applying" and len(dead.outcome.written) == BATCH
    titles = {hs.person_ref(i): emu.person_fields(hs.person_id(i)).get("jobtitle") for i in idxs}
    assert [r for r in refs if titles[r] != NEW] == refused
    emu.core.faults.fail_record_ids = set()

    async with Client(forked_stdio(env)) as client:
        change = (await client.call_tool("get_change", {"change_id": change_id})).structured_content
        assert change["status"] == "partially_applied", change
        assert change["outcome"]["counts"] == {
            "planned": N,
            "written": N - REFUSED,
            "failed": REFUSED,
            "not_attempted": 0,
            "unaccounted": 0,
        }
        assert change["outcome"]["written_refs"] == [r for r in refs if r not in refused]
        assert [(f["ref"], f["code"]) for f in change["outcome"]["failed"]] == [
            (r, "not_written") for r in refused
        ]
        recovery = [r for r in audit_rows(settings) if r["kind"] == "recovery"]
        assert [(r["change_id"], r["principal"], r["outcome"]) for r in recovery] == [
            (change_id, "(system)", "ok")
        ]
        assert recovery[0]["result_summary"] == (
            f"interrupted mid-apply; recovery re-read {N - BATCH} unaccounted records: "
            f"{N - BATCH - REFUSED} written, {REFUSED} not written; the change is failed"
        )
        assert recovery[0]["upstream_calls"] >= 1

        finish = await client.call_tool(
            "propose_finish", {"change_id": change_id, "reason": REASON}
        )
        rest = finish.structured_content
        assert [(r["ref"], r["action"]) for r in rest["records"]] == [
            (r, "update") for r in refused
        ]
        approve(settings, rest["change_id"], "mops-lead")
        approve(settings, rest["change_id"], "compliance")
        done = await client.call_tool(
            "apply_change",
            {"change_id": rest["change_id"], "confirmation_token": rest["confirmation_token"]},
        )
        assert done.structured_content["status"] == "applied", done
    sent = [hs.person_id(i) for i in idxs]
    assert hold.batches == [sent[:BATCH], sent[BATCH:], sent[BATCH : BATCH + REFUSED]]
    assert {emu.person_fields(hs.person_id(i)).get("jobtitle") for i in idxs} == {NEW}

"""The persistent sandbox (issue #11): one file under the state directory, shared by every
process that serves it; ``mopsgate sandbox reset`` restores the seed and ``status`` says what
changed since."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mopsgate.crm.records import PersonUpdate
from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.persist.store import SandboxStore
from mopsgate.sandbox.seed import seed_data
from mopsgate.sandbox.vendors import new_emulator, open_store, sandbox_client
from mopsgate.server.cli import app
from tests.support.cli_forks import cli_forks

PEOPLE = 60  # a small data set keeps the seeding out of the test time
SEED = seed_data(PEOPLE)
WRITES = 15  # per process


def _sandbox(home: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["sandbox", *args, "--home", str(home)])
    return result.exit_code, result.output


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    starts = (10, 10 + WRITES)
    env = dict(os.environ)
    forks = cli_forks()  # two processes of their own, without an interpreter start each
    writers = [
        forks.start_module("tests.sandbox.store_writer", [str(home), str(s), str(WRITES)], env)
        for s in starts
    ]
    deadline = time.monotonic() + 60
    try:
        while not all((home / f"ready-{s}").exists() for s in starts):
            dead = [forks.wait(w) for w in writers if not forks.running(w)]
            assert not dead, [f"a writer died: {d.stderr[-3000:]}" for d in dead]
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        # Both write from here on, interleaved; should one have died, the other still ends
        # (a writer left waiting for this would outlive the test run with its fork server).
        (home / "go").touch()
    done = [forks.wait(w) for w in writers]
    assert [d.returncode for d in done] == [0, 0], [d.stderr[-3000:] for d in done]

    store = SandboxStore(home / "sandbox.db", people=PEOPLE)
    emu = new_emulator("marketo", store)
    written = range(starts[0], starts[1] + WRITES)
    assert [emu.person_fields(mk.lead_id(i))["title"] for i in written] == [
        f"Writer {i}" for i in written
    ]
    log = emu.activities
    assert len(log) == len(SEED.activities) + 2 * WRITES  # each write logged once
    assert len({a["id"] for a in log}) == len(log)  # ids drawn under the write lock: no clash
    store.close()
    with sqlite3.connect(home / "sandbox.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


async def test_a_write_in_one_store_is_read_through_another_and_reset_restores_it(
    tmp_path: Path,
):
    home = tmp_path / "home"
    assert _sandbox(home, "reset", "--people", str(PEOPLE))[0] == 0
    writer_store, reader_store = open_store(home), open_store(home)  # as two processes would
    writer = sandbox_client("marketo", new_emulator("marketo", writer_store))
    reader = sandbox_client("marketo", new_emulator("marketo", reader_store))
    ref = mk.lead_ref(3)
    seeded = (await reader.get_person(ref)).fields["title"]
    [done] = await writer.update_people([PersonUpdate(ref=ref, fields={"title": "Head of Ops"})])
    assert done.ok
    assert (await reader.get_person(ref)).fields["title"] == "Head of Ops"

    code, out = _sandbox(home, "status")
    assert code == 0, out
    assert "marketo: 1 lead changed; 1 activity added" in out
    assert f"lead {mk.lead_id(3)}: title: '{seeded}' -> 'Head of Ops'" in out
    assert "hubspot: unchanged" in out and "salesforce: unchanged" in out

    code, out = _sandbox(home, "reset", "--people", str(PEOPLE))
    assert code == 0 and f"{PEOPLE} people" in out
    assert (await reader.get_person(ref)).fields["title"] == seeded  # seen at the next request
    assert "marketo: unchanged" in _sandbox(home, "status")[1]
    for client in (writer, reader):
        await client.aclose()
    await writer_store.aclose()
    await reader_store.aclose()


def test_reset_to_another_seed_and_size(tmp_path: Path):
    home = tmp_path / "home"
    code, out = _sandbox(home, "reset", "--seed", "7", "--people", "50")
    assert code == 0 and "seed 7 with 50 people" in out
    store = open_store(home)
    emu = new_emulator("marketo", store)
    assert emu.has_person(mk.lead_id(49)) and not emu.has_person(mk.lead_id(50))
    assert emu.person_fields(mk.lead_id(0))["email"] == seed_data(50, 7).people[0].email
    store.close()
    assert "seed 7, 50 people" in _sandbox(home, "status")[1]


def test_a_file_from_another_format_is_refused_until_reset(tmp_path: Path):
    home = tmp_path / "home"
    assert _sandbox(home, "reset", "--people", str(PEOPLE))[0] == 0
    with sqlite3.connect(home / "sandbox.db") as conn:
        conn.execute("UPDATE sandbox_meta SET value = '0' WHERE key = 'format'")
    code, out = _sandbox(home, "status")
    assert code == 1
    assert "written by another version of mopsgate" in out and "mopsgate sandbox reset" in out
    assert _sandbox(home, "reset", "--people", str(PEOPLE))[0] == 0
    assert _sandbox(home, "status")[0] == 0


def test_the_store_is_used_only_on_its_own_thread(tmp_path: Path):
    """Nothing touches the file on an event loop: the connection refuses any other thread."""
    store = SandboxStore(tmp_path / "sandbox.db", people=PEOPLE)
    emu = new_emulator("hubspot", store)
    assert emu.person_fields("1001")["email"]  # a helper hops to the store's thread
    with pytest.raises(RuntimeError, match="only on its own thread"):
        store.db.conn.execute("SELECT 1")
    store.close()

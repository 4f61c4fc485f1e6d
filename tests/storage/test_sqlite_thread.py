"""The SQLite connection's own thread: units run there one at a time, in order; a unit whose
caller gave up before it started is not run; a failing unit leaves the thread serving; closing
lets what was handed in finish, then refuses more and leaves no thread behind."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from mopsgate.storage.errors import StorageUnavailable
from mopsgate.storage.sqlite.db import SqliteDb


async def _db(tmp_path: Path) -> SqliteDb:
    db = await SqliteDb.open(tmp_path / "t.db", name="test")
    await db.write(lambda conn: conn.execute("CREATE TABLE t (x INTEGER)"))
    return db


def _insert(i: int) -> Callable[[sqlite3.Connection], str]:
    def unit(conn: sqlite3.Connection) -> str:
        conn.execute("INSERT INTO t VALUES (?)", (i,))
        return threading.current_thread().name

    return unit


async def test_units_run_in_order_on_the_connections_own_thread(tmp_path: Path) -> None:
    db = await _db(tmp_path)
    try:
        names = await asyncio.gather(*(db.write(_insert(i)) for i in range(20)))
        rows = await db.read(lambda conn: [r[0] for r in conn.execute("SELECT x FROM t")])
    finally:
        await db.close()
    assert set(names) == {"mopsgate-db-test"}
    assert rows == list(range(20))


async def test_a_unit_whose_caller_gave_up_before_it_started_is_not_run(tmp_path: Path) -> None:
    db = await _db(tmp_path)
    release = threading.Event()
    try:
        busy = asyncio.ensure_future(db.call(lambda conn: release.wait(5)))
        gone = asyncio.ensure_future(
            db.write(lambda conn: conn.execute("INSERT INTO t VALUES (1)"))
        )
        await asyncio.sleep(0)
        gone.cancel()
        release.set()
        assert await busy
        with pytest.raises(asyncio.CancelledError):
            await gone
        count = await db.read(lambda conn: conn.execute("SELECT COUNT(*) FROM t").fetchone()[0])
    finally:
        await db.close()
    assert count == 0


async def test_a_failing_unit_is_reported_and_the_thread_serves_on(tmp_path: Path) -> None:
    db = await _db(tmp_path)
    try:
        with pytest.raises(StorageUnavailable, match="no such table"):
            await db.read(lambda conn: conn.execute("SELECT * FROM missing").fetchall())
        with pytest.raises(ZeroDivisionError):
            await db.call(lambda conn: 1 // 0)
        started = db.started(lambda conn: conn.execute("SELECT * FROM missing").fetchall())
        with pytest.raises(StorageUnavailable, match="no such table"):
            await started
        assert await db.read(lambda conn: conn.execute("SELECT 7").fetchone()[0]) == 7
    finally:
        await db.close()


async def test_close_finishes_what_was_handed_in_then_refuses(tmp_path: Path) -> None:
    db = await _db(tmp_path)
    outcomes: list[object] = []
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    def settled(outcome: object) -> None:
        outcomes.append(outcome)
        loop.call_soon_threadsafe(done.set)

    db.submit(lambda conn: conn.execute("INSERT INTO t VALUES (5)").rowcount, settled)
    await db.close()
    await done.wait()
    assert outcomes == [1]
    assert not [t for t in threading.enumerate() if t.name == "mopsgate-db-test"]
    with pytest.raises(StorageUnavailable, match="closed"):
        await db.read(lambda conn: 1)
    with pytest.raises(StorageUnavailable, match="closed"):
        db.submit(lambda conn: 1, settled)
    conn = sqlite3.connect(tmp_path / "t.db")
    try:
        assert conn.execute("SELECT x FROM t").fetchall() == [(5,)]
    finally:
        conn.close()

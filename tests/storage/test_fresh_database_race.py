"""Two processes opening a new state database together both start: the one that finds the
file being created waits for it instead of refusing with "database is locked" (SQLite answers
the switch to WAL that every open makes at once, without waiting on its own)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from mopsgate.storage import StorageConfig, audit_reader, open_storage
from tests.storage.events import allowed


async def test_an_open_waits_for_another_process_creating_the_file(tmp_path: Path) -> None:
    db = tmp_path / "mopsgate.db"
    other = sqlite3.connect(db, isolation_level=None)  # another process, mid-creation
    other.execute("BEGIN IMMEDIATE")
    other.execute("CREATE TABLE being_created (x)")
    opening = asyncio.ensure_future(open_storage(StorageConfig.sqlite(db)))
    await asyncio.sleep(0.3)  # the open meets the lock (it used to fail at once, here)
    other.execute("ROLLBACK")
    other.close()
    storage = await asyncio.wait_for(opening, timeout=30)
    try:
        assert (await storage.audit.append(allowed())).seq == 1
    finally:
        await storage.close()
    assert (await audit_reader(StorageConfig.sqlite(db)).verify()).rows == 1

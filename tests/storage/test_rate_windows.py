"""Calls per minute in storage, on every backend: a tool call's audit row counts toward its
principal's window in the same commit, and nothing else does."""

from __future__ import annotations

import asyncio
import time

from mopsgate.governance.call_window import WindowCount
from mopsgate.storage import Storage, StorageConfig, open_storage
from mopsgate.storage.sqlite.rates import SqliteRateWindows
from tests.storage.events import allowed


async def test_counted_calls_are_in_the_window_for_a_minute(storage: Storage) -> None:
    before = time.time()
    await asyncio.gather(
        *(storage.audit.append(allowed(principal="alice"), count_call=True) for _ in range(3)),
        storage.audit.append(allowed(principal="bob"), count_call=True),
        storage.audit.append(allowed(principal="alice")),  # a row that is not a counted call
    )
    now = time.time()
    assert (await storage.rates.count_calls("alice", now)).calls == 3
    assert (await storage.rates.count_calls("bob", now)).calls == 1
    assert (await storage.rates.count_calls("carol", now)).calls == 0
    window = await storage.rates.count_calls("alice", now)
    assert window.oldest_second is not None and window.oldest_second <= now
    assert (await storage.rates.count_calls("alice", before + 62)).calls == 0


async def test_a_burst_of_principals_is_counted_in_one_read(storage: Storage) -> None:
    """What the calls admitted together share: each principal's own count, none mixed up."""
    await asyncio.gather(
        *(storage.audit.append(allowed(principal="alice"), count_call=True) for _ in range(2)),
        storage.audit.append(allowed(principal="bob"), count_call=True),
    )
    now = time.time()
    counts = await storage.rates.count_calls_many(["alice", "bob", "carol"], now)
    assert {p: w.calls for p, w in counts.items()} == {"alice": 2, "bob": 1, "carol": 0}
    assert counts["carol"].oldest_second is None
    assert counts["alice"] == await storage.rates.count_calls("alice", now)


async def test_sqlite_counts_on_the_loop_what_the_read_thread_counts(tmp_path) -> None:
    """The count made without a hop (SQLite) is the shared count; where it cannot be made at
    once (from another thread, or once the storage is closed) it says so, and the call then
    takes the hop."""
    storage = await open_storage(StorageConfig.sqlite(tmp_path / "state.db"))
    try:
        await asyncio.gather(
            *(storage.audit.append(allowed(principal="alice"), count_call=True) for _ in range(2))
        )
        rates = storage.rates
        assert isinstance(rates, SqliteRateWindows)
        now = time.time()
        assert rates.count_now("alice", now) == await rates.count_calls("alice", now)
        assert (here := rates.count_now("alice", now)) is not None and here.calls == 2
        assert rates.count_now("bob", now) == WindowCount(0, None)
        assert await asyncio.to_thread(rates.count_now, "alice", now) is None
    finally:
        await storage.close()
    assert rates.count_now("alice", now) is None

"""Calls per minute in storage, on every backend: a tool call's audit row counts toward its
principal's window in the same commit, and nothing else does."""

from __future__ import annotations

import asyncio
import time

from mopsgate.storage import Storage
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

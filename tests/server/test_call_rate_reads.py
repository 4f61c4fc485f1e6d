"""How calls per minute read the shared window: one read per round for every principal that
asked, never a read that began before the caller asked, and a read that fails (or cannot begin)
refuses its callers without stopping the next one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from mopsgate.governance.call_window import WindowCount
from mopsgate.governance.errors import AuditUnavailable, RateLimited
from mopsgate.server.call_rate import CallRate
from mopsgate.storage.errors import StorageUnavailable
from mopsgate.storage.sqlite.backend import SqliteStorage
from tests.storage.events import allowed


class HeldWindows:
    """Each read waits until the test answers it: committed calls by principal, or a failure."""

    def __init__(self) -> None:
        self.reads: list[tuple[list[str], asyncio.Future[dict[str, WindowCount]]]] = []
        self.refuse_to_start: StorageUnavailable | None = None

    async def count_calls(self, principal: str, now: float) -> WindowCount:
        return (await self.count_calls_many([principal], now))[principal]

    def count_calls_many(
        self, principals: Sequence[str], now: float
    ) -> asyncio.Future[dict[str, WindowCount]]:
        if self.refuse_to_start is not None:
            raise self.refuse_to_start
        future: asyncio.Future[dict[str, WindowCount]] = asyncio.get_running_loop().create_future()
        self.reads.append((list(principals), future))
        return future

    def answer(self, read: int, committed: dict[str, int]) -> None:
        self.reads[read][1].set_result({p: WindowCount(n, None) for p, n in committed.items()})


async def _turns(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_callers_asking_during_a_read_share_the_next_one() -> None:
    windows = HeldWindows()
    rate = CallRate(lambda: windows)
    first = asyncio.create_task(rate.admit("alice", 10))
    together = asyncio.create_task(rate.admit("dave", 10))  # asks in the same turn: same read
    await _turns()
    burst = [asyncio.create_task(rate.admit(p, 10)) for p in ("bob", "carol", "bob")]
    await _turns()
    assert [principals for principals, _ in windows.reads] == [["alice", "dave"]]  # none joined
    windows.answer(0, {"alice": 0, "dave": 0})
    await asyncio.gather(first, together)
    await _turns()
    assert [principals for principals, _ in windows.reads] == [
        ["alice", "dave"],
        ["bob", "carol"],
    ]
    windows.answer(1, {"bob": 0, "carol": 0})
    await asyncio.gather(*burst)
    for principal in ("alice", "dave", "bob", "bob", "carol"):
        rate.release(principal)


async def test_a_call_released_during_the_read_still_counts() -> None:
    """The read's snapshot may predate that call's row: the count errs high, never low."""
    windows = HeldWindows()
    rate = CallRate(lambda: windows)
    running = asyncio.create_task(rate.admit("alice", 2))
    await _turns()
    windows.answer(0, {"alice": 0})
    await running  # one call in flight
    second = asyncio.create_task(rate.admit("alice", 1))
    await _turns()
    rate.release("alice")  # its row committed after the second read's snapshot was taken
    windows.answer(1, {"alice": 0})  # the snapshot without it
    with pytest.raises(RateLimited, match="alice made 1 calls"):
        await second


async def test_a_failed_read_refuses_its_callers_and_the_next_read_runs() -> None:
    windows = HeldWindows()
    rate = CallRate(lambda: windows)
    failing = asyncio.create_task(rate.admit("alice", 10))
    await _turns()
    waiting = asyncio.create_task(rate.admit("bob", 10))
    await _turns()
    windows.reads[0][1].set_exception(StorageUnavailable("the disk is gone"))
    with pytest.raises(AuditUnavailable, match=r"could not be read.*the disk is gone"):
        await failing
    await _turns()
    windows.answer(1, {"bob": 0})
    await waiting


async def test_a_read_that_cannot_start_refuses_and_the_next_call_reads_again() -> None:
    windows = HeldWindows()
    rate = CallRate(lambda: windows)
    windows.refuse_to_start = StorageUnavailable("the read connection is closed")
    with pytest.raises(AuditUnavailable, match="the read connection is closed"):
        await rate.admit("alice", 10)
    windows.refuse_to_start = None
    again = asyncio.create_task(rate.admit("alice", 10))
    await _turns()
    windows.answer(0, {"alice": 0})
    await again


async def test_a_cancelled_caller_leaves_the_others_of_its_read_served() -> None:
    windows = HeldWindows()
    rate = CallRate(lambda: windows)
    gone = asyncio.create_task(rate.admit("alice", 10))
    stays = asyncio.create_task(rate.admit("alice", 10))
    await _turns()
    gone.cancel()
    await _turns()
    windows.answer(0, {"alice": 0})
    await stays
    assert gone.cancelled()


async def test_the_sqlite_count_is_read_off_the_loop_and_fails_closed_once_closed(
    tmp_path: Path,
) -> None:
    storage = await SqliteStorage.open(tmp_path / "state.db")
    rate = CallRate(lambda: storage.rates)
    try:
        for _ in range(2):
            await storage.audit.append(allowed(principal="alice"), count_call=True)
        many = [f"p{i}" for i in range(600)]  # over one statement's worth: one snapshot
        counts = await storage.rates.count_calls_many([*many, "alice"], time.time())
        assert counts["alice"].calls == 2 and counts["p599"].calls == 0
        with pytest.raises(RateLimited, match="alice made 2 calls"):
            await rate.admit("alice", 2)
        await rate.admit("alice", 3)
        rate.release("alice")
    finally:
        await storage.close()
    with pytest.raises(AuditUnavailable, match="could not be read"):
        await rate.admit("alice", 3)

"""Group commit: rows appended together share one durable commit (one fsync on SQLite), and a
row appended while a commit is in flight goes into the next one, in order."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mopsgate.storage import StorageConfig, audit_reader
from mopsgate.storage.group_commit import Settle
from mopsgate.storage.sqlite.audit import SqliteAuditStore
from tests.storage.events import allowed


async def _counting(db: Path) -> tuple[SqliteAuditStore, list[int]]:
    """The log, and the size of every transaction it starts."""
    log = await SqliteAuditStore.open(db)
    sizes: list[int] = []
    begin = log._begin

    def counted(values: Sequence[tuple[Any, ...]], calls: Sequence[str], done: Settle) -> None:
        sizes.append(len(values))
        begin(values, calls, done)

    log._begin = counted  # type: ignore[method-assign]
    return log, sizes


async def test_rows_appended_together_share_one_commit(tmp_path: Path) -> None:
    db = tmp_path / "mopsgate.db"
    log, sizes = await _counting(db)
    try:

        async def caller(i: int) -> list[int]:
            return [(await log.append(allowed(result_summary=f"{i}-{j}"))).seq for j in range(3)]

        seqs = await asyncio.gather(*(caller(i) for i in range(16)))
        await log.append(allowed())  # alone: a transaction of its own
    finally:
        await log.close()
    # 16 callers, woken together after each commit, append together: three commits of 16
    assert sizes == [16, 16, 16, 1]
    assert sorted(s for row in seqs for s in row) == list(range(1, 49))
    result = await audit_reader(StorageConfig.sqlite(db)).verify()
    assert result.ok and result.rows == 49


async def test_a_row_appended_during_a_commit_goes_into_the_next(tmp_path: Path) -> None:
    db = tmp_path / "mopsgate.db"
    log, sizes = await _counting(db)
    try:
        first = asyncio.ensure_future(log.append(allowed(result_summary="first")))
        while not sizes:  # the first commit has started
            await asyncio.sleep(0)
        later = [asyncio.ensure_future(log.append(allowed())) for _ in range(3)]
        records = [await first, *[await f for f in later]]
    finally:
        await log.close()
    assert sizes == [1, 3]
    assert [r.seq for r in records] == [1, 2, 3, 4]

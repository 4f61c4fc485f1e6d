"""Group commit never leaves a caller waiting: a batch whose failure cannot even be explained
still refuses its callers, and a second close waits for the same rows as the first."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from mopsgate.governance.errors import AuditUnavailable
from mopsgate.storage import StorageConfig, audit_reader
from mopsgate.storage.group_commit import Settle
from mopsgate.storage.sqlite.audit import SqliteAuditStore
from tests.storage.events import allowed

# Only a guard against a hang turning into a stuck suite: an answer comes at once or never.
NEVER = 10


class _Unexplainable(SqliteAuditStore):
    """A log whose commits fail and whose failures cannot be described either."""

    def _begin(self, values: Sequence[tuple[Any, ...]], calls: Sequence[str], done: Settle) -> None:
        raise OSError("the disk went away")

    def _unavailable(self, exc: BaseException) -> AuditUnavailable:
        raise RuntimeError("cannot describe it either")


async def test_a_failure_that_cannot_be_explained_still_refuses_every_caller(
    tmp_path: Path,
) -> None:
    log = await _Unexplainable.open(tmp_path / "mopsgate.db")
    try:
        calls = [log.append(allowed(result_summary=str(i))) for i in range(3)]
        outcomes = await asyncio.wait_for(
            asyncio.gather(*calls, return_exceptions=True), timeout=NEVER
        )
    finally:
        await log.close()
    assert all(isinstance(o, AuditUnavailable) for o in outcomes), outcomes
    assert "refused" in str(outcomes[0])


async def test_two_closes_both_wait_for_the_rows_handed_in(tmp_path: Path) -> None:
    db = tmp_path / "mopsgate.db"
    log = await SqliteAuditStore.open(db)
    rows = [asyncio.ensure_future(log.append(allowed(result_summary=str(i)))) for i in range(4)]
    await asyncio.sleep(0)  # handed in; their commit starts at the next turn
    await asyncio.wait_for(asyncio.gather(log.close(), log.close()), timeout=NEVER)
    assert [r.result().seq for r in rows] == [1, 2, 3, 4]
    result = await audit_reader(StorageConfig.sqlite(db)).verify()
    assert result.ok and result.rows == 4
    with pytest.raises(AuditUnavailable):
        await log.append(allowed())

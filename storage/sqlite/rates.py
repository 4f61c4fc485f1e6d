"""Calls per minute on SQLite: the ``call_window`` table, written by the audit writer inside the
transaction that commits each batch of rows, read by :class:`SqliteRateWindows`."""

from __future__ import annotations

import asyncio
import math
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import partial
from typing import Protocol

from mopsgate.governance.call_window import WindowCount, first_counted_second
from mopsgate.storage.sqlite.db import SqliteDb

UPSERT_SQL = (
    "INSERT INTO call_window (principal, second, calls) VALUES (?, ?, ?) "
    "ON CONFLICT(principal, second) DO UPDATE SET calls = calls + excluded.calls"
)
PRUNE_SQL = "DELETE FROM call_window WHERE principal = ? AND second < ?"
COUNT_SQL = (
    "SELECT COALESCE(SUM(calls), 0), MIN(second) FROM call_window "
    "WHERE principal = ? AND second >= ?"
)


def record_calls(
    conn: sqlite3.Connection,
    principals: Iterable[str],
    now: float,
    pruned: dict[str, int] | None = None,
) -> None:
    """Count the calls of one committed batch; run inside the audit writer's transaction, which
    also drops the principal's seconds that left the window (so the table stays tiny).
    ``pruned`` (principal -> the first second kept at its last prune, kept by the writer) drops
    them at most once a second per principal: a second not yet dropped is never counted, so
    pruning less often changes no count, and saves a statement in most batches."""
    counts = Counter(principals)
    if not counts:
        return
    second, oldest = math.floor(now), first_counted_second(now)
    conn.executemany(UPSERT_SQL, [(p, second, n) for p, n in counts.items()])
    due = [p for p in counts if pruned is None or pruned.get(p, oldest - 1) < oldest]
    if due:
        conn.executemany(PRUNE_SQL, [(p, oldest) for p in due])
        if pruned is not None:
            pruned.update(dict.fromkeys(due, oldest))


MANY_CHUNK = 500  # principals per statement, well under SQLite's bound on placeholders


def count_calls(conn: sqlite3.Connection, principal: str, now: float) -> WindowCount:
    row = conn.execute(COUNT_SQL, (principal, first_counted_second(now))).fetchone()
    return WindowCount(int(row[0]), None if row[1] is None else int(row[1]))


def count_calls_many(
    conn: sqlite3.Connection, principals: Sequence[str], now: float
) -> dict[str, WindowCount]:
    """:func:`count_calls` for several principals in one snapshot (one hop for a burst)."""
    out = dict.fromkeys(principals, WindowCount(0, None))
    oldest = first_counted_second(now)
    for i in range(0, len(principals), MANY_CHUNK):
        chunk = principals[i : i + MANY_CHUNK]
        sql = (
            "SELECT principal, SUM(calls), MIN(second) FROM call_window "  # noqa: S608
            f"WHERE second >= ? AND principal IN ({', '.join('?' * len(chunk))}) "
            "GROUP BY principal"
        )
        for principal, calls, second in conn.execute(sql, (oldest, *chunk)):
            out[str(principal)] = WindowCount(int(calls), None if second is None else int(second))
    return out


class AuditWriterState(Protocol):
    db: SqliteDb

    def idle(self) -> bool: ...


class SqliteRateWindows:
    """The :class:`~mopsgate.governance.ports.RateWindows` for SQLite, on the read
    connection's thread (never on the event loop)."""

    def __init__(self, read: SqliteDb, writer: AuditWriterState | None = None) -> None:
        self._read = read
        self._writer = writer

    async def count_calls(self, principal: str, now: float) -> WindowCount:
        return await self._read.read(partial(count_calls, principal=principal, now=now))

    def count_calls_many(
        self, principals: Sequence[str], now: float
    ) -> asyncio.Future[dict[str, WindowCount]]:
        """Handed to the read thread before it returns. Up to ``MANY_CHUNK`` principals it is
        one statement, its own snapshot, with no ``BEGIN … COMMIT`` around it."""
        db = self._read
        if self._writer is not None and self._writer.idle():
            db = self._writer.db
        return db.started(
            partial(count_calls_many, principals=principals, now=now),
            snapshot=len(principals) > MANY_CHUNK,
        )

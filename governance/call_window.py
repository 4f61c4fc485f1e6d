"""Calls per minute per principal, counted in the shared database so every process agrees.

Every stdio client runs its own server process, so a count kept in process memory gave a
second connection a fresh budget. The count lives beside the audit log instead, the way the
records-per-hour limit is derived from the stored changes: one row per principal and wall-clock
second, ``calls`` in that second.

Cost on the hot path: nothing is written that was not written before. The audit writer bumps the
counter inside the transaction that commits the call's audit row (same fsync, one indexed upsert
per principal per batch), and admitting a call is one indexed read of at most 61 rows on a
connection of its own (a WAL read, which never waits for the writer).

What it guarantees: a call is counted once its audit row is committed, and the admitting process
also counts its own calls still in flight (``server/call_rate.py``). A call in flight in
*another* process is not visible until its row commits, so principals racing from several
processes at the same instant can exceed the limit by at most the number of calls they have in
flight elsewhere. The window is the last 60 to 61 seconds (whole seconds, rounded so that a call
is never forgotten early).
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

WINDOW_SECONDS = 60

SCHEMA = """
CREATE TABLE IF NOT EXISTS call_window (
    principal TEXT NOT NULL,
    second INTEGER NOT NULL,
    calls INTEGER NOT NULL,
    PRIMARY KEY (principal, second)
) WITHOUT ROWID"""
UPSERT_SQL = (
    "INSERT INTO call_window (principal, second, calls) VALUES (?, ?, ?) "
    "ON CONFLICT(principal, second) DO UPDATE SET calls = calls + excluded.calls"
)
PRUNE_SQL = "DELETE FROM call_window WHERE principal = ? AND second < ?"
COUNT_SQL = (
    "SELECT COALESCE(SUM(calls), 0), MIN(second) FROM call_window "
    "WHERE principal = ? AND second >= ?"
)


def first_counted_second(now: float) -> int:
    """A call at time t is in the window if t > now - 60; its second b is counted if b + 1 >
    now - 60, i.e. b >= floor(now) - 60. Over-counting by under a second, never under."""
    return math.floor(now) - WINDOW_SECONDS


def record_calls(conn: sqlite3.Connection, principals: Iterable[str], now: float) -> None:
    """Count the calls of one committed batch; run inside the audit writer's transaction, which
    also drops the principal's seconds that left the window (so the table stays tiny)."""
    counts = Counter(principals)
    if not counts:
        return
    second, oldest = math.floor(now), first_counted_second(now)
    conn.executemany(UPSERT_SQL, [(p, second, n) for p, n in counts.items()])
    conn.executemany(PRUNE_SQL, [(p, oldest) for p in counts])


@dataclass(frozen=True)
class WindowCount:
    calls: int
    oldest_second: int | None

    def seconds_until_one_leaves(self, now: float) -> float:
        """When the oldest counted second leaves the window (at least 1 s)."""
        if self.oldest_second is None:
            return 0.0
        return max(1.0, self.oldest_second + WINDOW_SECONDS + 1 - now)


def count_calls(conn: sqlite3.Connection, principal: str, now: float) -> WindowCount:
    row = conn.execute(COUNT_SQL, (principal, first_counted_second(now))).fetchone()
    return WindowCount(int(row[0]), None if row[1] is None else int(row[1]))


class CallWindow:
    """The read side, for admitting calls: its own read-only connection, used on the event loop
    (a read of a few index rows; a thread hop would cost ten times as much)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @classmethod
    def open(cls, db_path: str | Path) -> CallWindow:
        """Open after the audit log (which creates the table)."""
        uri = f"file:{quote(str(Path(db_path).resolve()))}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=0.2, check_same_thread=False)
        return cls(conn)

    def count(self, principal: str, now: float) -> WindowCount:
        return count_calls(self._conn, principal, now)

    def close(self) -> None:
        self._conn.close()

"""Calls per minute per principal, counted in the shared database so every process agrees
(the rules; the table and its SQL are the storage backend's, behind ``RateWindows``).

Every stdio client runs its own server process, so a count kept in process memory gave a
second connection a fresh budget. The count lives beside the audit log instead, the way the
records-per-hour limit is derived from the stored changes: one row per principal and wall-clock
second, ``calls`` in that second.

Cost on the hot path: nothing is written that was not written before. The audit writer bumps the
counter inside the transaction that commits the call's audit row (same fsync, one indexed upsert
per principal per batch), and admitting a call is one indexed read of at most 61 rows (a WAL
read, which never waits for the writer), made on a database thread like every other use of the
database (on SQLite the audit writer's own thread when it is idle, else the read thread: never
the event loop's, where a read that met the disk would stall every other request).

What it guarantees: a call is counted once its audit row is committed, and the admitting process
also counts its own calls still in flight (``server/call_rate.py``). A call in flight in
*another* process is not visible until its row commits, so principals racing from several
processes at the same instant can exceed the limit by at most the number of calls they have in
flight elsewhere. The window is the last 60 to 61 seconds (whole seconds, rounded so that a call
is never forgotten early).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

WINDOW_SECONDS = 60


def first_counted_second(now: float) -> int:
    """A call at time t is in the window if t > now - 60; its second b is counted if b + 1 >
    now - 60, i.e. b >= floor(now) - 60. Over-counting by under a second, never under."""
    return math.floor(now) - WINDOW_SECONDS


@dataclass(frozen=True)
class WindowCount:
    calls: int
    oldest_second: int | None

    def seconds_until_one_leaves(self, now: float) -> float:
        """When the oldest counted second leaves the window (at least 1 s)."""
        if self.oldest_second is None:
            return 0.0
        return max(1.0, self.oldest_second + WINDOW_SECONDS + 1 - now)

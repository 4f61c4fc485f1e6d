"""Calls per minute on PostgreSQL: the ``call_window`` table, bumped by the audit writer inside
the transaction that commits each batch of rows (under the chain's head lock, so replicas never
contend on it otherwise), read by :class:`PgRateWindows`. Shared by every replica: a principal
gets one budget however many replicas its calls are spread over."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import partial

from mopsgate.governance.call_window import WindowCount, first_counted_second
from mopsgate.storage.postgres.db import Conn, PgDb

UPSERT_SQL = (
    "INSERT INTO call_window (principal, second, calls) VALUES (%s, %s, %s) "
    "ON CONFLICT (principal, second) DO UPDATE SET calls = call_window.calls + excluded.calls"
)
PRUNE_SQL = "DELETE FROM call_window WHERE principal = %s AND second < %s"
COUNT_SQL = (
    "SELECT COALESCE(SUM(calls), 0), MIN(second) FROM call_window "
    "WHERE principal = %s AND second >= %s"
)

COUNT_MANY_SQL = (
    "SELECT principal, SUM(calls), MIN(second) FROM call_window "
    "WHERE principal = ANY(%s) AND second >= %s GROUP BY principal"
)


async def record_calls(conn: Conn, principals: Iterable[str], now: float) -> None:
    """Count the calls of one committed batch, and drop the principal's seconds that left the
    window (so the table stays tiny)."""
    counts = sorted(Counter(principals).items())
    if not counts:
        return
    second, oldest = math.floor(now), first_counted_second(now)
    async with conn.cursor() as cur:
        await cur.executemany(UPSERT_SQL, [(p, second, n) for p, n in counts])
        await cur.executemany(PRUNE_SQL, [(p, oldest) for p, _ in counts])


async def count_calls(conn: Conn, principal: str, now: float) -> WindowCount:
    cur = await conn.execute(COUNT_SQL, (principal, first_counted_second(now)))
    row = await cur.fetchone()
    assert row is not None
    return WindowCount(int(row[0]), None if row[1] is None else int(row[1]))


async def count_calls_many(
    conn: Conn, principals: Sequence[str], now: float
) -> dict[str, WindowCount]:
    """:func:`count_calls` for several principals in one statement (one round trip)."""
    out = dict.fromkeys(principals, WindowCount(0, None))
    cur = await conn.execute(COUNT_MANY_SQL, (list(principals), first_counted_second(now)))
    for principal, calls, second in await cur.fetchall():
        out[str(principal)] = WindowCount(int(calls), None if second is None else int(second))
    return out


class PgRateWindows:
    """The :class:`~mopsgate.storage.api.RateWindows` for PostgreSQL."""

    def __init__(self, db: PgDb) -> None:
        self._db = db

    async def count_calls(self, principal: str, now: float) -> WindowCount:
        return await self._db.read_one(partial(count_calls, principal=principal, now=now))

    async def count_calls_many(
        self, principals: Sequence[str], now: float
    ) -> dict[str, WindowCount]:
        return await self._db.read_one(partial(count_calls_many, principals=principals, now=now))

"""The outbox on PostgreSQL (see ``governance/outbox.py``). :func:`enqueue` is also a unit other
stores run inside their own transactions, which is what makes the outbox transactional. Senders
in several replicas claim with ``FOR UPDATE SKIP LOCKED``: each takes rows no other sender holds,
without waiting for one another."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial

from mopsgate.governance.outbox import PARKED, OutboxItem, OutboxMessage, QueuedMessage, Settlement
from mopsgate.storage.postgres.codec import jsonb
from mopsgate.storage.postgres.db import Conn, PgDb

_DUE = (
    "SELECT id FROM outbox WHERE sent_at IS NULL AND due_at <= %s "
    "AND (locked_until IS NULL OR locked_until <= %s) "
    "ORDER BY due_at, id LIMIT %s FOR UPDATE SKIP LOCKED"
)
_LEASE = (
    "UPDATE outbox SET locked_until = %s, attempts = attempts + 1 WHERE id = ANY(%s) "
    "RETURNING id, topic, key, payload, due_at, attempts, enqueued_at, last_error"
)


_HAS_DUE = (
    "SELECT 1 FROM outbox WHERE due_at <= %s "
    "AND sent_at IS NULL AND (locked_until IS NULL OR locked_until <= %s) LIMIT 1"
)
_PARKED_IDS = (
    "SELECT id FROM outbox WHERE due_at >= %s "
    "AND sent_at IS NULL AND (locked_until IS NULL OR locked_until <= %s) FOR UPDATE"
)
_THESE_IDS = (
    "SELECT id FROM outbox WHERE id = ANY(%s) "
    "AND sent_at IS NULL AND (locked_until IS NULL OR locked_until <= %s) FOR UPDATE"
)
_UNSENT = (
    "SELECT id, topic, key, payload->>'target', attempts, enqueued_at, due_at, last_error "
    "FROM outbox WHERE sent_at IS NULL ORDER BY enqueued_at, id LIMIT %s"
)


async def enqueue(conn: Conn, messages: Sequence[OutboxMessage], now: datetime) -> int:
    """Queue messages; a key already queued is kept as it is. Returns how many were new."""
    added = 0
    for m in messages:
        cur = await conn.execute(
            "INSERT INTO outbox (topic, key, payload, enqueued_at, due_at) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (key) DO NOTHING",
            (m.topic, m.key, jsonb(dict(m.payload)), now, m.not_before or now),
        )
        added += cur.rowcount
    return added


async def _claim(conn: Conn, now: datetime, limit: int, lease: timedelta) -> list[OutboxItem]:
    cur = await conn.execute(_DUE, (now, now, limit))
    ids = [row[0] for row in await cur.fetchall()]
    if not ids:
        return []
    cur = await conn.execute(_LEASE, (now + lease, ids))
    rows = sorted(await cur.fetchall(), key=lambda r: (r[4], r[0]))
    return [
        OutboxItem(id_, OutboxMessage(topic, key, payload, due), attempts, enqueued, error)
        for id_, topic, key, payload, due, attempts, enqueued, error in rows
    ]


async def _sent(conn: Conn, item_id: int, at: datetime) -> None:
    await conn.execute(
        "UPDATE outbox SET sent_at = %s, locked_until = NULL WHERE id = %s AND sent_at IS NULL",
        (at, item_id),
    )


async def _retry(conn: Conn, item_id: int, at: datetime, error: str) -> None:
    await conn.execute(
        "UPDATE outbox SET due_at = %s, locked_until = NULL, last_error = %s "
        "WHERE id = %s AND sent_at IS NULL",
        (at, error[:2000], item_id),
    )


async def _has_due(conn: Conn, now: datetime) -> bool:
    return await (await conn.execute(_HAS_DUE, (now, now))).fetchone() is not None


async def _unsent(conn: Conn, limit: int) -> list[QueuedMessage]:
    cur = await conn.execute(_UNSENT, (limit,))
    return [QueuedMessage(*row) for row in await cur.fetchall()]


async def _requeue(conn: Conn, ids: Sequence[int] | None, now: datetime) -> list[int]:
    """Not a message a sender holds right now (its lease stands): that one is being sent."""
    if ids is None:
        cur = await conn.execute(_PARKED_IDS, (PARKED, now))
    else:
        cur = await conn.execute(_THESE_IDS, (list(ids), now))
    found = sorted(row[0] for row in await cur.fetchall())
    if found:
        await conn.execute(
            "UPDATE outbox SET due_at = %s, enqueued_at = %s, attempts = 0, locked_until = NULL "
            "WHERE id = ANY(%s)",
            (now, now, found),
        )
    return found


async def _settle(conn: Conn, settlements: Sequence[Settlement], at: datetime) -> None:
    for s in settlements:
        if s.retry_at is None:
            await _sent(conn, s.item_id, at)
        else:
            await _retry(conn, s.item_id, s.retry_at, s.error)


class PgOutbox:
    """The :class:`~mopsgate.storage.api.Outbox` for PostgreSQL."""

    def __init__(self, db: PgDb) -> None:
        self._db = db

    async def enqueue(self, messages: Sequence[OutboxMessage], *, now: datetime) -> int:
        return await self._db.write(partial(enqueue, messages=messages, now=now))

    async def claim_due(self, now: datetime, *, limit: int, lease: timedelta) -> list[OutboxItem]:
        return await self._db.write(partial(_claim, now=now, limit=limit, lease=lease))

    async def sent(self, item_id: int, at: datetime) -> None:
        await self._db.write(partial(_sent, item_id=item_id, at=at))

    async def retry_later(self, item_id: int, at: datetime, error: str) -> None:
        await self._db.write(partial(_retry, item_id=item_id, at=at, error=error))

    async def settle(self, settlements: Sequence[Settlement], *, at: datetime) -> None:
        if settlements:
            await self._db.write(partial(_settle, settlements=settlements, at=at))

    async def has_due(self, now: datetime) -> bool:
        return await self._db.read(partial(_has_due, now=now))

    async def unsent(self, *, limit: int) -> list[QueuedMessage]:
        return await self._db.read(partial(_unsent, limit=limit))

    async def requeue(self, ids: Sequence[int] | None, *, now: datetime) -> list[int]:
        return await self._db.write(partial(_requeue, ids=ids, now=now))

"""The outbox on SQLite (see ``governance/outbox.py``). :func:`enqueue` is also a unit other
stores run inside their own transactions, which is what makes the outbox transactional."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import partial

from mopsgate.governance.outbox import PARKED, OutboxItem, OutboxMessage, QueuedMessage, Settlement
from mopsgate.storage.sqlite.codec import maybe_ts, to_json, ts, when
from mopsgate.storage.sqlite.db import SqliteDb

_DUE = (
    "SELECT id, topic, key, payload, due_at, attempts, enqueued_at, last_error FROM outbox "
    "WHERE sent_at IS NULL AND due_at <= ? AND (locked_until IS NULL OR locked_until <= ?) "
    "ORDER BY due_at, id LIMIT ?"
)
_HAS_DUE = (
    "SELECT 1 FROM outbox WHERE due_at <= ? "
    "AND sent_at IS NULL AND (locked_until IS NULL OR locked_until <= ?) LIMIT 1"
)
_PARKED_IDS = (
    "SELECT id FROM outbox WHERE due_at >= ? "
    "AND sent_at IS NULL AND (locked_until IS NULL OR locked_until <= ?)"
)
_THESE_IDS = (
    "SELECT id FROM outbox WHERE id IN (SELECT value FROM json_each(?)) "
    "AND sent_at IS NULL AND (locked_until IS NULL OR locked_until <= ?)"
)
_UNSENT = (
    "SELECT id, topic, key, json_extract(payload, '$.target'), attempts, enqueued_at, due_at, "
    "last_error FROM outbox WHERE sent_at IS NULL ORDER BY enqueued_at, id LIMIT ?"
)


def enqueue(conn: sqlite3.Connection, messages: Sequence[OutboxMessage], now: datetime) -> int:
    """Queue messages; a key already queued is kept as it is. Returns how many were new."""
    added = 0
    for m in messages:
        cur = conn.execute(
            "INSERT INTO outbox (topic, key, payload, enqueued_at, due_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (key) DO NOTHING",
            (m.topic, m.key, to_json(dict(m.payload)), ts(now), ts(m.not_before or now)),
        )
        added += cur.rowcount
    return added


def _claim(
    conn: sqlite3.Connection, now: datetime, limit: int, lease: timedelta
) -> list[OutboxItem]:
    rows = conn.execute(_DUE, (ts(now), ts(now), limit)).fetchall()
    until = ts(now + lease)
    items = []
    for id_, topic, key, payload, due, attempts, enqueued, error in rows:
        conn.execute(
            "UPDATE outbox SET locked_until = ?, attempts = attempts + 1 WHERE id = ?",
            (until, id_),
        )
        message = OutboxMessage(topic, key, json.loads(payload), when(due))
        items.append(OutboxItem(id_, message, attempts + 1, when(enqueued), error))
    return items


def _sent(conn: sqlite3.Connection, item_id: int, at: datetime) -> None:
    conn.execute(
        "UPDATE outbox SET sent_at = ?, locked_until = NULL WHERE id = ? AND sent_at IS NULL",
        (ts(at), item_id),
    )


def _retry(conn: sqlite3.Connection, item_id: int, at: datetime, error: str) -> None:
    conn.execute(
        "UPDATE outbox SET due_at = ?, locked_until = NULL, last_error = ? "
        "WHERE id = ? AND sent_at IS NULL",
        (maybe_ts(at), error[:2000], item_id),
    )


def _has_due(conn: sqlite3.Connection, now: datetime) -> bool:
    return conn.execute(_HAS_DUE, (ts(now), ts(now))).fetchone() is not None


def _unsent(conn: sqlite3.Connection, limit: int) -> list[QueuedMessage]:
    return [
        QueuedMessage(id_, topic, key, target, attempts, when(enq), when(due), error)
        for id_, topic, key, target, attempts, enq, due, error in conn.execute(_UNSENT, (limit,))
    ]


def _requeue(conn: sqlite3.Connection, ids: Sequence[int] | None, now: datetime) -> list[int]:
    """Not a message a sender holds right now (its lease stands): that one is being sent."""
    if ids is None:
        rows = conn.execute(_PARKED_IDS, (ts(PARKED), ts(now)))
    else:
        rows = conn.execute(_THESE_IDS, (json.dumps(list(ids)), ts(now)))
    found = sorted(r[0] for r in rows)
    conn.executemany(
        "UPDATE outbox SET due_at = ?, enqueued_at = ?, attempts = 0, locked_until = NULL "
        "WHERE id = ?",
        [(ts(now), ts(now), id_) for id_ in found],
    )
    return found


def _settle(conn: sqlite3.Connection, settlements: Sequence[Settlement], at: datetime) -> None:
    for s in settlements:
        if s.retry_at is None:
            _sent(conn, s.item_id, at)
        else:
            _retry(conn, s.item_id, s.retry_at, s.error)


class SqliteOutbox:
    """The :class:`~mopsgate.storage.api.Outbox` for SQLite, on the state connection."""

    def __init__(self, state: SqliteDb) -> None:
        self._state = state

    async def enqueue(self, messages: Sequence[OutboxMessage], *, now: datetime) -> int:
        return await self._state.write(partial(enqueue, messages=messages, now=now))

    async def claim_due(self, now: datetime, *, limit: int, lease: timedelta) -> list[OutboxItem]:
        return await self._state.write(partial(_claim, now=now, limit=limit, lease=lease))

    async def sent(self, item_id: int, at: datetime) -> None:
        await self._state.write(partial(_sent, item_id=item_id, at=at))

    async def retry_later(self, item_id: int, at: datetime, error: str) -> None:
        await self._state.write(partial(_retry, item_id=item_id, at=at, error=error))

    async def settle(self, settlements: Sequence[Settlement], *, at: datetime) -> None:
        if settlements:
            await self._state.write(partial(_settle, settlements=settlements, at=at))

    async def has_due(self, now: datetime) -> bool:
        return await self._state.read(partial(_has_due, now=now))

    async def unsent(self, *, limit: int) -> list[QueuedMessage]:
        return await self._state.read(partial(_unsent, limit=limit))

    async def requeue(self, ids: Sequence[int] | None, *, now: datetime) -> list[int]:
        return await self._state.write(partial(_requeue, ids=ids, now=now))

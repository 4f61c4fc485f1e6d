"""The outbox on every backend, as a sender (#14) relies on it: each message once per key,
claimed by one sender at a time, retried when due, and never lost to a sender that died."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from mopsgate.governance.outbox import PARKED, OutboxMessage, Settlement
from mopsgate.storage import Storage
from tests.storage.backends import Backend

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def message(key: str, **payload: int | str) -> OutboxMessage:
    return OutboxMessage("change.awaiting_review", key, {"change_id": key, **payload})


async def test_a_key_is_queued_once_and_claimed_in_order(storage: Storage) -> None:
    assert await storage.outbox.enqueue([message("chg_1"), message("chg_2")], now=NOW) == 2
    later = NOW + timedelta(seconds=1)
    assert await storage.outbox.enqueue([message("chg_1", records=9)], now=later) == 0
    items = await storage.outbox.claim_due(later, limit=10, lease=LEASE)
    assert [i.message.key for i in items] == ["chg_1", "chg_2"]
    assert items[0].message.payload == {"change_id": "chg_1"}  # the first one queued stays
    assert items[0].message.topic == "change.awaiting_review"
    assert (items[0].attempts, items[0].enqueued_at, items[0].last_error) == (1, NOW, None)


async def test_claimed_messages_are_leased_and_sent_ones_are_done(storage: Storage) -> None:
    await storage.outbox.enqueue([message("a"), message("b"), message("c")], now=NOW)
    first = await storage.outbox.claim_due(NOW, limit=2, lease=LEASE)
    second = await storage.outbox.claim_due(NOW, limit=10, lease=LEASE)
    assert [i.message.key for i in first] == ["a", "b"]
    assert [i.message.key for i in second] == ["c"]  # a and b are leased
    for item in (*first, *second):
        await storage.outbox.sent(item.id, NOW)
    assert await storage.outbox.claim_due(NOW + 2 * LEASE, limit=10, lease=LEASE) == []


async def test_a_sender_that_died_loses_nothing(storage: Storage) -> None:
    await storage.outbox.enqueue([message("a")], now=NOW)
    (claimed,) = await storage.outbox.claim_due(NOW, limit=1, lease=LEASE)
    assert await storage.outbox.claim_due(NOW + LEASE / 2, limit=1, lease=LEASE) == []
    (again,) = await storage.outbox.claim_due(NOW + LEASE, limit=1, lease=LEASE)
    assert again.id == claimed.id and again.attempts == 2


async def test_a_failed_send_is_due_again_later_with_its_error(storage: Storage) -> None:
    await storage.outbox.enqueue(
        [message("a"), OutboxMessage("freeze", "f", {}, not_before=NOW + timedelta(hours=1))],
        now=NOW,
    )
    (item,) = await storage.outbox.claim_due(NOW, limit=10, lease=LEASE)
    retry_at = NOW + timedelta(minutes=5)
    await storage.outbox.retry_later(item.id, retry_at, "HTTP 503 from the webhook")
    assert (
        await storage.outbox.claim_due(retry_at - timedelta(seconds=1), limit=9, lease=LEASE) == []
    )
    (retried,) = await storage.outbox.claim_due(retry_at, limit=9, lease=LEASE)
    assert (retried.attempts, retried.last_error) == (2, "HTTP 503 from the webhook")
    await storage.outbox.sent(retried.id, retry_at)
    (scheduled,) = await storage.outbox.claim_due(NOW + timedelta(hours=1), limit=9, lease=LEASE)
    assert scheduled.message.key == "f"


async def test_two_senders_never_claim_the_same_message(storage: Storage, backend: Backend) -> None:
    await storage.outbox.enqueue([message(f"m{i}") for i in range(40)], now=NOW)
    other = await backend.open()
    try:
        batches = await asyncio.gather(
            *(s.outbox.claim_due(NOW, limit=7, lease=LEASE) for s in (storage, other) * 4)
        )
    finally:
        await other.close()
    ids = [item.id for batch in batches for item in batch]
    assert len(ids) == len(set(ids)) == 40


async def test_has_due_is_true_only_when_a_claim_would_find_something(storage: Storage) -> None:
    assert not await storage.outbox.has_due(NOW)
    await storage.outbox.enqueue(
        [OutboxMessage("freeze", "later", {}, not_before=NOW + LEASE)], now=NOW
    )
    assert not await storage.outbox.has_due(NOW)
    assert await storage.outbox.has_due(NOW + LEASE)
    (held,) = await storage.outbox.claim_due(NOW + LEASE, limit=1, lease=LEASE)
    assert not await storage.outbox.has_due(NOW + LEASE)  # leased by a sender
    await storage.outbox.settle([Settlement(held.id, PARKED, "gave up: HTTP 410")], at=NOW)
    assert not await storage.outbox.has_due(NOW + timedelta(days=3650))  # parked


async def test_unsent_shows_pending_and_parked_and_requeue_brings_them_back(
    storage: Storage,
) -> None:
    delivery = OutboxMessage("notify.delivery", "k@relay", {"target": "relay", "email": "a@b.c"})
    await storage.outbox.enqueue([message("a"), message("b"), delivery], now=NOW)
    a, b, d = await storage.outbox.claim_due(NOW, limit=9, lease=LEASE)
    assert not any(i.requeued for i in (a, b, d))  # first tries
    await storage.outbox.settle(
        [
            Settlement(a.id),
            Settlement(b.id, PARKED, "gave up: HTTP 410"),
            Settlement(d.id, NOW + LEASE, "HTTP 503"),
        ],
        at=NOW,
    )
    waiting = await storage.outbox.unsent(limit=10)
    assert [(m.key, m.parked, m.target, m.last_error) for m in waiting] == [
        ("b", True, None, "gave up: HTTP 410"),
        ("k@relay", False, "relay", "HTTP 503"),
    ]
    assert "a@b.c" not in repr(waiting)  # a listing never carries a payload
    later = NOW + timedelta(days=2)
    assert await storage.outbox.requeue(None, now=later) == [b.id]
    assert await storage.outbox.requeue([a.id, d.id, 999], now=later) == [d.id]  # a was sent
    again = await storage.outbox.claim_due(later, limit=9, lease=LEASE)
    assert [(i.message.key, i.enqueued_at) for i in again] == [("b", later), ("k@relay", later)]
    # attempts start afresh and the last error stays: a running sender can tell an operator's
    # requeue from its own retries (and lift its backoff for the target)
    assert [(i.attempts, i.requeued) for i in again] == [(1, True), (1, True)]
    assert await storage.outbox.requeue([b.id], now=later) == []  # leased: being sent now

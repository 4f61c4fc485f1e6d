"""``Outbox.settle`` on every backend: a sender's pass records every outcome in one call, sent
ones done for good and failed ones due again at their own time with their error (#14)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mopsgate.governance.outbox import OutboxMessage, Settlement
from mopsgate.storage import Storage

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


async def test_settle_marks_sent_and_reschedules_in_one_call(storage: Storage) -> None:
    await storage.outbox.enqueue(
        [OutboxMessage("notify.deliver", k, {"n": i}) for i, k in enumerate("abc")], now=NOW
    )
    a, b, c = await storage.outbox.claim_due(NOW, limit=10, lease=LEASE)
    await storage.outbox.settle(
        [
            Settlement(a.id),
            Settlement(b.id, NOW + timedelta(seconds=4), "HTTP 500 from the receiver"),
            Settlement(c.id, NOW + timedelta(seconds=9), "timed out"),
        ],
        at=NOW,
    )
    await storage.outbox.settle([], at=NOW)  # nothing to record is not an error
    assert await storage.outbox.claim_due(NOW + timedelta(seconds=3), limit=9, lease=LEASE) == []
    (again,) = await storage.outbox.claim_due(NOW + timedelta(seconds=4), limit=9, lease=LEASE)
    assert (again.message.key, again.attempts, again.last_error) == (
        "b",
        2,
        "HTTP 500 from the receiver",
    )
    await storage.outbox.settle([Settlement(again.id)], at=NOW + timedelta(seconds=4))
    (last,) = await storage.outbox.claim_due(NOW + timedelta(hours=1), limit=9, lease=LEASE)
    assert (last.message.key, last.last_error) == ("c", "timed out")

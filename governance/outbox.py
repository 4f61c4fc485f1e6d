"""Messages about what happened, queued for sending later (notifications, #14): pure types.

The queue is a transactional outbox: a message is stored in the same transaction as the state
change it reports, so no change happens without its message being queued and no message goes
out for a change that was rolled back. A sender claims due messages with a lease (a sender that
dies mid-send lets the lease lapse and another takes over), sends each at least once, and marks
it sent or due again later. ``key`` is the idempotency key: queuing the same key twice stores
one message, and receivers de-duplicate on it. Payloads carry references and counts, never PII.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import JsonValue

# The due time of a parked message: the sender gave up on it (after give_up_after_hours) and
# only `mopsgate notify requeue` makes it due again.
PARKED = datetime(9999, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class OutboxMessage:
    topic: str  # what happened, e.g. "change.awaiting_review"
    key: str  # idempotency key, unique across the outbox
    payload: Mapping[str, JsonValue]
    not_before: datetime | None = None  # not due before this (None: at once)


@dataclass(frozen=True)
class OutboxItem:
    """A claimed message: send it, then mark it sent or due again later."""

    id: int
    message: OutboxMessage
    attempts: int  # including the current one
    enqueued_at: datetime
    last_error: str | None

    @property
    def requeued(self) -> bool:
        """Made due again by an operator (``mopsgate notify requeue``), perhaps from another
        process: a requeue starts the attempts afresh and keeps the last error, and nothing
        else writes an error on a message that was never tried. The sender tries it at once,
        whatever backoff it keeps in memory for the message's target."""
        return self.attempts == 1 and self.last_error is not None


@dataclass(frozen=True)
class Settlement:
    """What became of one claimed message: sent (``retry_at`` None), or due again at
    ``retry_at`` with ``error`` kept for the operator."""

    item_id: int
    retry_at: datetime | None = None
    error: str = ""


@dataclass(frozen=True)
class QueuedMessage:
    """An unsent message as ``mopsgate notify list`` shows it: its topic, key and target,
    never its payload (the operator needs to know what waits and why, not about whom)."""

    id: int
    topic: str
    key: str
    target: str | None  # for a delivery, the webhook target it is for
    attempts: int
    enqueued_at: datetime
    due_at: datetime
    last_error: str | None

    @property
    def parked(self) -> bool:
        return self.due_at >= PARKED

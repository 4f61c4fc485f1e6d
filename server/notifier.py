"""The notification sender: a background task that empties the outbox (#14).

It never runs on a tool call's path. The audit writer queues a notice with each row that
matters; this task claims due messages with a lease (so several server processes on one state
directory never send the same message twice at once, and one that dies hands its work on),
turns each notice into one delivery per target that wants it (resolved against the manifest in
force: who may approve, the console link), and posts each delivery until the receiver takes it,
backing off exponentially between attempts. Every attempt of a delivery carries the same
Idempotency-Key, so at-least-once becomes exactly-once for a receiver that de-duplicates.
A delivery still refused after ``give_up_after_hours`` is parked with its last error and
logged. Whatever goes wrong here is logged and retried; nothing is raised to a caller.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pydantic import JsonValue

from mopsgate.connectors.webhook import WebhookSender
from mopsgate.governance.cadence import overdue, review_status
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.notify_events import (
    APPLY_ENDED,
    DECIDED,
    DELIVERY,
    FLOOR,
    FROZEN,
    OVERDUE,
    PROPOSED,
    UNFROZEN,
    Notification,
    change_notification,
    overdue_notice,
    overdue_notification,
    plain_notification,
    retry_delay,
    wants,
)
from mopsgate.governance.notify_model import WebhookTarget
from mopsgate.governance.notify_render import body_for
from mopsgate.governance.outbox import OutboxItem, OutboxMessage
from mopsgate.governance.ports import SYSTEM_CLOCK, ChangeStore, Clock
from mopsgate.storage.api import Outbox

log = logging.getLogger("mopsgate.notify")

BATCH = 50
LEASE = timedelta(seconds=60)  # longer than a send may take (the sender's timeout is 5 s)
MAX_RETRY_AFTER = timedelta(hours=1)
PARKED = datetime(9999, 1, 1, tzinfo=dt.UTC)
OVERDUE_EVERY = timedelta(hours=1)
DEFAULT_CONSOLE = "http://localhost:8766"


def console_base(env: Mapping[str, str]) -> str:
    """Where the review console is, for the links in notifications: MOPSGATE_CONSOLE_URL (the
    same setting the console and the propose result use), else the console's default."""
    return (env.get("MOPSGATE_CONSOLE_URL") or "").strip().rstrip("/") or DEFAULT_CONSOLE


def resolve_url(target: WebhookTarget, env: Mapping[str, str]) -> str | None:
    return target.url if target.url is not None else env.get(target.url_env or "") or None


@dataclass
class Notifier:
    outbox: Outbox
    changes: ChangeStore
    manifest: Callable[[], Awaitable[Manifest]]
    env: Mapping[str, str]
    console_url: str
    sender: WebhookSender
    clock: Clock = SYSTEM_CLOCK
    poll_seconds: float = 1.0
    rand: Callable[[], float] = random.random
    _overdue_at: datetime | None = field(default=None, init=False)

    async def run_forever(self) -> None:
        while True:
            try:
                busy = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the storage may be briefly locked or closing: try again
                log.exception("notification sender: a pass failed; retrying")
                busy = 0
            if not busy:
                await asyncio.sleep(self.poll_seconds)

    async def run_once(self) -> int:
        """One pass: queue overdue reviews (hourly), then handle what is due; returns how many
        messages were handled (0: nothing was due)."""
        now = self.clock.now()
        manifest = await self.manifest()
        if manifest.notifications.targets:
            await self._queue_overdue(manifest, now)
        items = await self.outbox.claim_due(now, limit=BATCH, lease=LEASE)
        for item in items:  # notices first: each is a few writes, no network
            if item.message.topic != DELIVERY:
                await self._guarded(self._fan_out(item, manifest, now), item, now)
        # Deliveries at once: one dead receiver must not hold up the others.
        await asyncio.gather(
            *(
                self._guarded(self._deliver(item, manifest, now), item, now)
                for item in items
                if item.message.topic == DELIVERY
            )
        )
        return len(items)

    async def _guarded(self, work: Awaitable[None], item: OutboxItem, now: datetime) -> None:
        try:
            await work
        except Exception as exc:
            log.exception("notification %s: could not be handled", item.message.key)
            await self.outbox.retry_later(
                item.id, now + retry_delay(item.attempts, self.rand), f"internal error: {exc}"
            )

    async def _queue_overdue(self, manifest: Manifest, now: datetime) -> None:
        if self._overdue_at is not None and now - self._overdue_at < OVERDUE_EVERY:
            return
        self._overdue_at = now
        late = overdue(manifest, now.date())
        if late:
            await self.outbox.enqueue([overdue_notice(s) for s in late], now=now)

    async def notification(self, message: OutboxMessage, manifest: Manifest) -> Notification | None:
        """What a notice stands for now, or None when there is nothing to say any more."""
        topic, payload = message.topic, message.payload
        if topic in (PROPOSED, DECIDED, APPLY_ENDED):
            change = await self.changes.get(str(payload.get("change_id")))
            if change is None:
                return None
            return change_notification(topic, payload, change, manifest, self.console_url)
        if topic in (FROZEN, UNFROZEN, FLOOR):
            return plain_notification(topic, payload, message.key)
        if topic == OVERDUE:
            name = str(payload.get("use_case"))
            uc = manifest.use_cases.get(name)
            status = review_status(name, uc, self.clock.now().date()) if uc else None
            if uc is None or status is None or not status.overdue:
                return None  # reviewed (date moved) or removed since
            return overdue_notification(payload, message.key, manifest, status)
        log.warning("notification sender: unknown topic %r dropped", topic)
        return None

    async def _fan_out(self, item: OutboxItem, manifest: Manifest, now: datetime) -> None:
        targets = manifest.notifications.targets
        note = await self.notification(item.message, manifest) if targets else None
        if note is not None:
            deliveries = [
                OutboxMessage(
                    DELIVERY,
                    f"{note.key}@{name}",
                    {"target": name, "notification": note.as_json()},
                )
                for name, target in sorted(targets.items())
                if wants(target, note)
            ]
            if deliveries:
                await self.outbox.enqueue(deliveries, now=now)
        await self.outbox.sent(item.id, now)

    async def _deliver(self, item: OutboxItem, manifest: Manifest, now: datetime) -> None:
        payload: Mapping[str, JsonValue] = item.message.payload
        name = str(payload.get("target"))
        target = manifest.notifications.targets.get(name)
        if target is None:
            log.warning(
                "notification %s: target %r is no longer configured", item.message.key, name
            )
            await self.outbox.sent(item.id, now)
            return
        raw = payload.get("notification")
        note = Notification.from_json(raw if isinstance(raw, dict) else {})
        url = resolve_url(target, self.env)
        if url is None:
            await self._failed(item, manifest, now, f"{target.url_env} is not set", None)
            return
        result = await self.sender.post(
            url, body_for(target.format, note), idempotency_key=note.key, event=str(note.event)
        )
        if result.ok:
            log.info("notification %s sent to %s (%s)", note.key, name, result.detail)
            await self.outbox.sent(item.id, self.clock.now())
        else:
            await self._failed(item, manifest, now, result.detail, result.retry_after)

    async def _failed(
        self,
        item: OutboxItem,
        manifest: Manifest,
        now: datetime,
        error: str,
        retry_after: float | None,
    ) -> None:
        give_up = timedelta(hours=manifest.notifications.give_up_after_hours)
        if now - item.enqueued_at >= give_up:
            log.error(
                "notification %s: gave up after %d attempts: %s",
                item.message.key,
                item.attempts,
                error,
            )
            await self.outbox.retry_later(item.id, PARKED, f"gave up: {error}")
            return
        delay = retry_delay(item.attempts, self.rand)
        if retry_after is not None:
            delay = max(delay, min(MAX_RETRY_AFTER, timedelta(seconds=retry_after)))
        log.warning(
            "notification %s: attempt %d failed (%s); retrying in %.0f s",
            item.message.key,
            item.attempts,
            error,
            delay.total_seconds(),
        )
        await self.outbox.retry_later(item.id, now + delay, error)

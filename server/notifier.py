"""The notification sender: a background task that empties the outbox (#14).

It never runs on a tool call's path. The audit writer queues a notice with each row that
matters; this task claims due messages with a lease (so several server processes on one state
directory never send the same message twice at once, and one that dies hands its work on),
turns each notice into one delivery per target that wants it (resolved against the manifest in
force: who may approve, the console link), and posts each delivery until the receiver takes it.
Backoff is exponential and kept per target: a receiver that failed gets one probe per backoff
step, however many messages wait for it, and a pass records all its outcomes in one commit, so
a dead receiver adds almost no writes beside the calls' own. Every attempt of a delivery
carries the same Idempotency-Key, so at-least-once becomes exactly-once for a receiver that
de-duplicates.
A delivery still refused after ``give_up_after_hours`` is parked with its last error and
logged (``mopsgate notify list`` shows it, ``notify requeue`` tries it again: the running
sender notices the requeued row at its next poll and lifts the target's backoff). Whatever goes
wrong here is logged and retried; nothing is raised to a caller. An idle sender only reads:
it takes the write lock only when a message is due, so it never competes with a long apply for
SQLite's one writer; and a database that is briefly locked or unavailable costs one log line
(and a quiet retry with backoff), not a traceback per second.
"""

from __future__ import annotations

import asyncio
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
from mopsgate.governance.outbox import PARKED, OutboxItem, OutboxMessage, Settlement
from mopsgate.governance.ports import SYSTEM_CLOCK, ChangeStore, Clock
from mopsgate.storage.api import Outbox
from mopsgate.storage.errors import StorageUnavailable

log = logging.getLogger("mopsgate.notify")

BATCH = 50
LEASE = timedelta(seconds=60)  # longer than a send may take (the sender's timeout is 5 s)
MAX_RETRY_AFTER = timedelta(hours=1)
OVERDUE_EVERY = timedelta(hours=1)
POLL_SECONDS = 1.0  # between the sender's passes while nothing is due
MAX_IDLE_BACKOFF = 30.0  # seconds between passes while the database stays unavailable


def resolve_url(target: WebhookTarget, env: Mapping[str, str]) -> str | None:
    return target.url if target.url is not None else env.get(target.url_env or "") or None


@dataclass(frozen=True)
class _Attempt:
    item: OutboxItem
    error: str | None = None  # None: taken by the receiver (or nothing left to send)
    retry_after: float | None = None


@dataclass
class Notifier:
    outbox: Outbox
    changes: ChangeStore
    manifest: Callable[[], Awaitable[Manifest]]
    env: Mapping[str, str]
    console_url: str
    sender: WebhookSender
    clock: Clock = SYSTEM_CLOCK
    poll_seconds: float = POLL_SECONDS
    rand: Callable[[], float] = random.random
    _overdue_at: datetime | None = field(default=None, init=False)
    # Per target: consecutive failed passes, when to try again, the last error.
    _failures: dict[str, int] = field(default_factory=dict, init=False)
    _down_until: dict[str, datetime] = field(default_factory=dict, init=False)
    _last_error: dict[str, str] = field(default_factory=dict, init=False)
    _unavailable: int = field(default=0, init=False)  # passes failed in a row on storage

    async def run_forever(self) -> None:
        while True:
            busy = await self.pass_quietly()
            if not busy:
                backoff = min(MAX_IDLE_BACKOFF, self.poll_seconds * 2 ** min(self._unavailable, 8))
                await asyncio.sleep(backoff if self._unavailable else self.poll_seconds)

    async def pass_quietly(self) -> int:
        """:meth:`run_once`, for the background loop: a database that is locked or closing
        (a 10,000-record apply holds SQLite's write lock) is logged once, in one line, when it
        starts and once when it ends; the pass is simply tried again. Anything else is a bug
        and is logged with its traceback."""
        try:
            busy = await self.run_once()
        except asyncio.CancelledError:
            raise
        except StorageUnavailable as exc:
            if not self._unavailable:
                log.warning("notification sender: %s; retrying quietly", exc.message)
            self._unavailable += 1
            return 0
        except Exception:
            log.exception("notification sender: a pass failed; retrying")
            return 0
        if self._unavailable:
            log.info("notification sender: the database is usable again; sending resumes")
            self._unavailable = 0
        return busy

    async def run_once(self) -> int:
        """One pass: queue overdue reviews (hourly), claim what is due, turn notices into
        deliveries, post every delivery at once, and record every outcome in one commit.
        Returns how many messages were handled (0: nothing was due)."""
        now = self.clock.now()
        manifest = await self.manifest()
        if manifest.notifications.targets:
            await self._queue_overdue(manifest, now)
        if not await self.outbox.has_due(now):  # a read: the idle poll never locks the writer
            return 0
        items = await self.outbox.claim_due(now, limit=BATCH, lease=LEASE)
        if not items:
            return 0
        notices = [i for i in items if i.message.topic != DELIVERY]
        deliveries = [i for i in items if i.message.topic == DELIVERY]
        done = await self._fan_out(notices, manifest, now)
        by_target: dict[str, list[OutboxItem]] = {}
        for item in deliveries:
            by_target.setdefault(str(item.message.payload.get("target")), []).append(item)
        # Targets at once: one dead receiver must not hold up the others.
        for group in await asyncio.gather(
            *(self._deliver_to(name, group, manifest, now) for name, group in by_target.items())
        ):
            done += group
        await self.outbox.settle(done, at=self.clock.now())
        return len(items)

    def _internal(self, item: OutboxItem, now: datetime, exc: Exception) -> Settlement:
        log.error("notification %s: could not be handled: %r", item.message.key, exc)
        again = now + retry_delay(item.attempts, self.rand)
        return Settlement(item.id, again, f"internal error: {type(exc).__name__}: {exc}")

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

    async def _fan_out(
        self, notices: list[OutboxItem], manifest: Manifest, now: datetime
    ) -> list[Settlement]:
        """One delivery per target that wants each notice; the deliveries are committed before
        the notices are marked done (a crash between the two fans out again, and the keys
        keep the second fan-out from adding anything)."""
        targets = manifest.notifications.targets
        out: list[Settlement] = []
        deliveries: list[OutboxMessage] = []
        for item in notices:
            try:
                note = await self.notification(item.message, manifest) if targets else None
            except Exception as exc:
                out.append(self._internal(item, now, exc))
                continue
            if note is not None:
                deliveries += [
                    OutboxMessage(
                        DELIVERY,
                        f"{note.key}@{name}",
                        {"target": name, "notification": note.as_json()},
                    )
                    for name, target in sorted(targets.items())
                    if wants(target, note)
                ]
            out.append(Settlement(item.id))
        if deliveries:
            await self.outbox.enqueue(deliveries, now=now)
        return out

    async def _deliver_to(
        self, name: str, items: list[OutboxItem], manifest: Manifest, now: datetime
    ) -> list[Settlement]:
        """Deliver one target's due messages. Backoff is kept per target, not per message: a
        target that failed is left alone until its backoff has passed; each pass sends one
        message first and the rest only if that one was taken. So a dead receiver costs one
        attempt per backoff step (and one after a restart), however many messages wait. A
        message requeued by an operator (``notify requeue``, from any process) lifts the
        backoff: it is the probe, sent now."""
        down, last = self._down_until.get(name), self._last_error.get(name, "")
        requeued = [i for i in items if i.requeued]
        if requeued:  # an operator said "try now" (notify requeue): the backoff is lifted
            log.info("notification target %s: %d requeued; trying now", name, len(requeued))
            self._failures.pop(name, None)
            self._down_until.pop(name, None)
            items = requeued + [i for i in items if not i.requeued]  # a requeued one probes
        elif down is not None and now < down:
            return [self._later(i, manifest, now, down, last) for i in items]
        tried = [await self._attempt(items[0], manifest)]  # a probe, even after a restart
        if tried[0].error is None:
            tried += await asyncio.gather(*(self._attempt(i, manifest) for i in items[1:]))
        failed = [a for a in tried if a.error is not None]
        if not failed:
            self._failures.pop(name, None)
            self._down_until.pop(name, None)
            return [Settlement(a.item.id) for a in tried]
        count = self._failures[name] = self._failures.get(name, 0) + 1
        delay = retry_delay(count, self.rand)
        waits = [a.retry_after for a in failed if a.retry_after is not None]
        if waits:
            delay = max(delay, min(MAX_RETRY_AFTER, timedelta(seconds=max(waits))))
        until = self._down_until[name] = now + delay
        error = self._last_error[name] = str(failed[0].error)
        log.warning(
            "notification target %s: %d of %d attempts failed (%s); %d message(s) wait %.0f s",
            name,
            len(failed),
            len(tried),
            error,
            len(items) - len(tried) + len(failed),
            delay.total_seconds(),
        )
        out = [
            Settlement(a.item.id)
            if a.error is None
            else self._later(a.item, manifest, now, until, a.error)
            for a in tried
        ]
        return out + [self._later(i, manifest, now, until, error) for i in items[len(tried) :]]

    async def _attempt(self, item: OutboxItem, manifest: Manifest) -> _Attempt:
        """One POST; never raises, writes nothing (the outcome is settled with the pass)."""
        try:
            payload: Mapping[str, JsonValue] = item.message.payload
            name = str(payload.get("target"))
            target = manifest.notifications.targets.get(name)
            if target is None:
                log.warning(
                    "notification %s: target %r is no longer configured", item.message.key, name
                )
                return _Attempt(item)
            raw = payload.get("notification")
            note = Notification.from_json(raw if isinstance(raw, dict) else {})
            url = resolve_url(target, self.env)
            if url is None:
                return _Attempt(item, f"{target.url_env} is not set")
            result = await self.sender.post(
                url, body_for(target.format, note), idempotency_key=note.key, event=str(note.event)
            )
        except Exception as exc:
            log.exception("notification %s: could not be sent", item.message.key)
            return _Attempt(item, f"internal error: {type(exc).__name__}: {exc}")
        if result.ok:
            log.info("notification %s sent to %s (%s)", note.key, name, result.detail)
            return _Attempt(item)
        return _Attempt(item, result.detail, result.retry_after)

    def _later(
        self, item: OutboxItem, manifest: Manifest, now: datetime, until: datetime, error: str
    ) -> Settlement:
        """Due again at ``until``, or parked once it has waited give_up_after_hours."""
        give_up = timedelta(hours=manifest.notifications.give_up_after_hours)
        if now - item.enqueued_at >= give_up:
            log.error(
                "notification %s: gave up after %d attempts: %s",
                item.message.key,
                item.attempts,
                error,
            )
            return Settlement(item.id, PARKED, f"gave up: {error}")
        return Settlement(item.id, until, error)

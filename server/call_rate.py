"""Per-principal calls per minute, checked before anything runs.

It limits how fast an assistant can act (and how fast a runaway loop burns the vendors' API
budget). The count is shared by every process on the same state directory: calls whose audit
row is committed are read from the shared window (``governance/call_window.py``), and this
process adds its own calls admitted but not yet audited, so concurrent calls in one process
cannot slip past each other. The record-level hourly limit on proposals lives with the change
store.

A call that arrives while no other call of this process is in flight reads its count on the
event loop's own thread where the backend can (SQLite), at once, without the hop to a database
thread that cost far more than the read; that is every call of a sequential client. Calls that
overlap (and every call on PostgreSQL, or when that read cannot be made at once) share their
read: while one read is under way, the principals that ask next wait for the one after it
(never joining a read that started before they asked, whose snapshot could miss a call released
in between), so a burst of concurrent calls costs one hop to the database instead of one each,
the way the audit writer shares its commits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from mopsgate.governance.call_window import WindowCount
from mopsgate.governance.errors import AuditUnavailable, GovernanceError, RateLimited
from mopsgate.governance.ports import RateWindows

_Waiters = dict[str, list["asyncio.Future[WindowCount]"]]  # principal -> its callers


class CallRate:
    """One per process (the runtime's), shared by every connection it serves."""

    def __init__(
        self, windows: Callable[[], RateWindows], clock: Callable[[], float] = time.time
    ) -> None:
        self._windows = windows
        self._clock = clock
        self._in_flight: dict[str, int] = {}
        self._released: dict[str, int] = {}
        self._waiting: _Waiters = {}  # asked for the next read
        self._reader: asyncio.Task[None] | None = None

    async def admit(self, principal: str, per_minute: int) -> None:
        """Refuse (RateLimited) or count the call as in flight; :meth:`release` it once its
        audit row is written (or the call ended without one).

        The committed count is read in one hop off the event loop. A call of this process that
        committed and was released while that hop was under way may be missing from the
        snapshot, so calls released during the hop are counted as still in flight: the count
        can only err high, never low."""
        now = self._clock()
        released_before = self._released.get(principal, 0)
        try:
            # Never read on the loop (a read there could meet the disk and stall every other
            # request): calls in flight together share one read per round, beside the loop.
            seen = await self._committed(principal)
        except GovernanceError as exc:  # the store is unavailable: no count, no call
            raise AuditUnavailable(
                "the shared call-rate window could not be read, so the call was refused. "
                f"Cause: {exc.message}",
                hint=exc.hint or "Check that the database mopsgate keeps its state in is usable.",
                details={"cause": str(exc)},
            ) from exc
        during_read = self._released.get(principal, 0) - released_before
        calls = seen.calls + self._in_flight.get(principal, 0) + during_read
        if calls >= per_minute:
            wait = seen.seconds_until_one_leaves(now) if seen.calls else 1.0
            raise RateLimited(
                f"{principal} made {calls} calls in the last minute (counted across every "
                f"connection); the limit is {per_minute}.",
                hint=f"Wait about {wait:.0f} s before the next call.",
                rule_id="rate-limit",
            )
        self._in_flight[principal] = self._in_flight.get(principal, 0) + 1

    async def _committed(self, principal: str) -> WindowCount:
        """The principal's committed calls, from the next shared read."""
        future: asyncio.Future[WindowCount] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(principal, []).append(future)
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_all(), name="mopsgate-call-rate")
        return await future

    async def _read_all(self) -> None:
        """One read per round, for everyone who asked while the last one was under way."""
        while self._waiting:
            asked, self._waiting = self._waiting, {}
            waiters = [(p, future) for p, futures in asked.items() for future in futures]
            try:
                counts = await self._windows().count_calls_many(sorted(asked), self._clock())
            except BaseException as exc:  # each caller fails closed with it (admit says how)
                for _, future in waiters:
                    if future.done():  # its caller was cancelled meanwhile
                        continue
                    if isinstance(exc, Exception):
                        future.set_exception(exc)
                    else:  # the reader itself was cancelled: nobody may wait forever
                        future.cancel()
                if not isinstance(exc, Exception):
                    raise
                continue
            for principal, future in waiters:
                if not future.done():
                    future.set_result(counts[principal])

    def release(self, principal: str) -> None:
        self._released[principal] = self._released.get(principal, 0) + 1
        left = self._in_flight.get(principal, 0) - 1
        if left > 0:
            self._in_flight[principal] = left
        else:
            self._in_flight.pop(principal, None)

"""Per-principal calls per minute, checked before anything runs.

It limits how fast an assistant can act (and how fast a runaway loop burns the vendors' API
budget). The count is shared by every process on the same state directory: calls whose audit
row is committed are read from the shared window (``governance/call_window.py``), and this
process adds its own calls admitted but not yet audited, so concurrent calls in one process
cannot slip past each other. The record-level hourly limit on proposals lives with the change
store.

The committed count is never read on the event loop's thread (a read there could meet the disk
and stall every other request): :meth:`CallRate.admit` hands it to a database thread at once,
with no task in between (SQLite's read starts before ``count_calls_many`` returns), and is woken
by the read's own future. Reading it while the pipeline validates and decides was measured and
does not pay: the database thread needs the interpreter lock that validation holds, so the read
only progresses once the loop waits (``bench/results/issue15-s24-latency.md``).
Calls that overlap share their read: while one read is under way, the principals that ask next
wait for the one after it (never joining a read that started before they asked, whose snapshot
could miss a call released in between), so a burst of concurrent calls costs one hop to the
database instead of one each, the way the audit writer shares its commits.
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
        self._reading: asyncio.Future[dict[str, WindowCount]] | None = None
        self._starting = False  # a read starts at the loop's next turn

    async def admit(self, principal: str, per_minute: int) -> None:
        """Refuse (RateLimited, or AuditUnavailable when the count cannot be read) or count
        the call as in flight; :meth:`release` it once its audit row is written (or the call
        ended without one).

        A call of this process that committed and was released while the read was under way
        may be missing from its snapshot, so calls released meanwhile are counted as still in
        flight: the count can only err high, never low."""
        now = self._clock()
        released_before = self._released.get(principal, 0)
        try:
            seen = await self._ask(principal)
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

    def release(self, principal: str) -> None:
        self._released[principal] = self._released.get(principal, 0) + 1
        left = self._in_flight.get(principal, 0) - 1
        if left > 0:
            self._in_flight[principal] = left
        else:
            self._in_flight.pop(principal, None)

    def _ask(self, principal: str) -> asyncio.Future[WindowCount]:
        """The principal's committed calls, from the read starting at the loop's next turn
        (with everyone else who asks in this one: callers woken together share it), or from
        the one after the read under way."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[WindowCount] = loop.create_future()
        self._waiting.setdefault(principal, []).append(future)
        if self._reading is None and not self._starting:
            self._starting = True
            loop.call_soon(self._start_read)
        return future

    def _start_read(self) -> None:
        self._starting = False
        if self._waiting and self._reading is None:
            self._read_next()

    def _read_next(self) -> None:
        """One read for everyone who asked since the last one started."""
        asked, self._waiting = self._waiting, {}
        try:
            reading = asyncio.ensure_future(
                self._windows().count_calls_many(sorted(asked), self._clock())
            )
        except Exception as exc:  # nothing started: each caller fails closed with it
            _answer(asked, exc)
            return
        self._reading = reading
        reading.add_done_callback(lambda done: self._read_done(asked, done))

    def _read_done(self, asked: _Waiters, done: asyncio.Future[dict[str, WindowCount]]) -> None:
        self._reading = None
        try:
            _answer(asked, done.result())
        except BaseException as exc:  # cancelled too: nobody may wait forever
            _answer(asked, exc)
        if self._waiting:
            self._read_next()


def _answer(asked: _Waiters, outcome: dict[str, WindowCount] | BaseException) -> None:
    for principal, futures in asked.items():
        for future in futures:
            if future.done():  # its caller was cancelled meanwhile
                continue
            if isinstance(outcome, dict):
                future.set_result(outcome[principal])
            elif isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.cancel()

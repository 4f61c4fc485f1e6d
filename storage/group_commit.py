"""The audit writer every backend shares: group commit, driven by the commits themselves.

A call may not answer before its row is durable, and a durable commit costs an fsync (SQLite)
or a WAL flush and a round trip under the chain's head lock (PostgreSQL). So the rows are
committed in batches: a row that arrives while no commit is in flight starts one at the loop's
next turn, with every row appended in the same turn; the rows that arrive while one is in flight
wait, and go together into the next transaction, which starts as soon as the one before it
settles. One commit per batch, then every waiter is woken with its receipt. A backend says only
how to start committing a batch (:meth:`_begin`, or :meth:`_write_batch` for a backend whose
driver is async) and how to explain a failure.

No writer task sits between a call and its commit: a lone row goes from :meth:`append` to the
backend one turn of the loop later (on SQLite, then one hop to the connection's thread and one
wake-up of the loop when it is durable), where a task in the middle cost two turns more and a
task wake-up each way.

Whatever goes wrong (a failed commit, a closed connection, a cancelled commit), nobody may wait
forever, and nobody may be told a row is durable when that cannot be said: every waiter then
gets :class:`AuditUnavailable`, and the caller fails closed.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from mopsgate.governance.audit_chain import (
    AuditEvent,
    AuditHead,
    AuditRecord,
    StoredRow,
    event_values,
    record_of,
)
from mopsgate.governance.errors import AuditUnavailable

MAX_BATCH = 2000
# (stored values, the principal whose calls per minute it counts toward or None, its future)
_Waiter = tuple[tuple[Any, ...], str | None, "asyncio.Future[AuditRecord]"]
# How a backend reports a batch's end, on the event loop: its stored rows, or what went wrong.
Settle = Callable[[list[StoredRow] | BaseException], None]


class GroupCommitLog(ABC):
    """An :class:`~mopsgate.governance.ports.AuditSink`. Subclasses open their connection,
    then call :meth:`_start`; :meth:`close` lets the rows handed in commit, then
    :meth:`_close_backend`."""

    def __init__(self) -> None:
        self._started = False
        self._closed = False
        self.head = AuditHead()
        self._waiting: list[_Waiter] = []  # for the next batch
        self._inflight: list[_Waiter] = []  # the batch being committed
        self._starting = False  # a batch starts at the loop's next turn
        self._drained: asyncio.Future[None] | None = None  # what close() waits on
        self._tasks: set[asyncio.Task[None]] = set()  # _run_batch's, while they run

    def _begin(self, values: Sequence[tuple[Any, ...]], calls: Sequence[str], done: Settle) -> None:
        """Start committing one batch: chain ``values`` after the head read inside one durable
        transaction, count ``calls`` (one principal per counted tool call) in the same one,
        then call ``done`` exactly once, on the event loop, with the stored rows or the
        exception. Raise instead when nothing could be started. By default, runs
        :meth:`_write_batch` in a task."""
        task = asyncio.get_running_loop().create_task(self._run_batch(values, calls, done))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_batch(
        self, values: Sequence[tuple[Any, ...]], calls: Sequence[str], done: Settle
    ) -> None:
        try:
            rows = await self._write_batch(values, calls)
        except BaseException as exc:  # cancelled too: its waiters are told, never left waiting
            done(exc)
            if not isinstance(exc, Exception):
                raise
            return
        done(rows)

    async def _write_batch(
        self, values: Sequence[tuple[Any, ...]], calls: Sequence[str]
    ) -> list[StoredRow]:
        """For a backend whose driver is async: :meth:`_begin`'s transaction, awaited; the
        stored rows."""
        raise NotImplementedError

    @abstractmethod
    def _unavailable(self, exc: BaseException) -> AuditUnavailable:
        """The failure, as the caller is told it."""

    @abstractmethod
    async def _close_backend(self) -> None: ...

    def _start(self) -> None:
        self._started = True

    def idle(self) -> bool:
        """No row is waiting for a commit, or being committed."""
        return not (self._inflight or self._waiting or self._starting)

    async def append(self, event: AuditEvent, *, count_call: bool = False) -> AuditRecord:
        """Return only once the row is committed durably; raise :class:`AuditUnavailable`
        otherwise, and the caller must refuse the call. With ``count_call`` the row also
        counts toward the principal's calls per minute."""
        if self._closed or not self._started:
            raise self._unavailable(RuntimeError("the audit log is closed"))
        try:
            values = event_values(event)
        except (ValueError, TypeError) as exc:
            raise self._unavailable(exc) from exc
        future: asyncio.Future[AuditRecord] = asyncio.get_running_loop().create_future()
        self._waiting.append((values, event.principal if count_call else None, future))
        if not self._inflight and not self._starting:
            # The batch starts at the loop's next turn, not now: callers woken together (the
            # rows of the last batch, say) append in the same turn, and share one commit.
            self._starting = True
            asyncio.get_running_loop().call_soon(self._start_batch)
        return await future

    async def close(self) -> None:
        """Let the rows already handed in commit, then close the connection."""
        self._closed = True
        if self._inflight or self._waiting:
            if self._drained is None or self._drained.done():  # a second closer waits too
                self._drained = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._drained)
        await self._close_backend()

    def _start_batch(self) -> None:
        self._starting = False
        if self._waiting and not self._inflight:
            self._next_batch()

    def _next_batch(self) -> None:
        """Everything waiting (up to MAX_BATCH rows) goes into one transaction."""
        batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
        self._inflight = batch
        values = [v for v, _, _ in batch]
        calls = [principal for _, principal, _ in batch if principal is not None]
        try:
            self._begin(values, calls, self._settle)
        except Exception as exc:  # nothing started: the batch fails now
            self._settle(exc)

    def _told(self, exc: BaseException) -> AuditUnavailable:
        """The failure as the batch's callers are told it. Explaining it reads the failure
        (and on SQLite the database's folder); should that fail too, they still get a plain
        refusal: a waiter left without an answer would hang its call forever."""
        try:
            return self._unavailable(exc)
        except Exception as explaining:
            return AuditUnavailable(
                "The audit log could not be written, so the call was refused.",
                hint="Check that the audit database is reachable and writable, then retry.",
                details={"cause": type(exc).__name__, "explaining": type(explaining).__name__},
            )

    def _settle(self, outcome: list[StoredRow] | BaseException) -> None:
        """A batch ended: wake its waiters (a failure was rolled back, so the next batch starts
        clean, and fails every waiter closed), then start the next one."""
        batch, self._inflight = self._inflight, []
        try:
            if isinstance(outcome, BaseException):
                raise outcome
            records = [record_of(row) for row in outcome]
            if len(records) != len(batch):
                raise RuntimeError(f"{len(records)} rows stored for a batch of {len(batch)}")
        except BaseException as exc:
            error = self._told(exc)
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(error)
        else:
            last = outcome[-1]
            self.head = AuditHead(last[0], last[-1], last[1])
            for (_, _, future), record in zip(batch, records, strict=True):
                if not future.done():
                    future.set_result(record)
        if self._waiting:
            self._next_batch()
        elif self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

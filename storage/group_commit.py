"""The audit writer every backend shares: one task per process that group-commits.

A call may not answer before its row is durable, and a durable commit costs an fsync (SQLite)
or a WAL flush and a round trip under the chain's head lock (PostgreSQL). So one writer task
owns the writing: everything queued while the previous commit was in flight goes into the next
transaction, one commit per batch, then every waiter is woken with its receipt. A backend says
only how to commit a batch (:meth:`GroupCommitLog._write_batch`) and how to explain a failure.

However the writer ends (closed, cancelled, crashed, even before it started) nobody may wait
forever, and nobody may be told a row is durable when that cannot be said: every waiter then
gets :class:`AuditUnavailable`, and the caller fails closed.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Sequence
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


class GroupCommitLog(ABC):
    """An :class:`~mopsgate.governance.ports.AuditSink`. Subclasses open their connection,
    then call :meth:`_start`; :meth:`close` drains the queue, then :meth:`_close_backend`."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[_Waiter | None] = asyncio.Queue()
        self._closed = False
        self.head = AuditHead()
        self._task: asyncio.Task[None] | None = None
        self._inflight: list[_Waiter] = []

    @abstractmethod
    async def _write_batch(
        self, values: Sequence[tuple[Any, ...]], calls: Sequence[str]
    ) -> list[StoredRow]:
        """Chain ``values`` after the head read inside one durable transaction, count
        ``calls`` (one principal per counted tool call) in the same one; the stored rows."""

    @abstractmethod
    def _unavailable(self, exc: BaseException) -> AuditUnavailable:
        """The failure, as the caller is told it."""

    @abstractmethod
    async def _close_backend(self) -> None: ...

    def _start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="mopsgate-audit-writer")
        self._task.add_done_callback(self._writer_done)

    async def append(self, event: AuditEvent, *, count_call: bool = False) -> AuditRecord:
        """Return only once the row is committed durably; raise :class:`AuditUnavailable`
        otherwise, and the caller must refuse the call. With ``count_call`` the row also
        counts toward the principal's calls per minute."""
        if self._closed or self._task is None or self._task.done():
            raise self._unavailable(RuntimeError("the audit log is closed"))
        try:
            values = event_values(event)
        except (ValueError, TypeError) as exc:
            raise self._unavailable(exc) from exc
        future: asyncio.Future[AuditRecord] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((values, event.principal if count_call else None, future))
        return await future

    async def close(self) -> None:
        """Let queued appends commit, then stop the writer and close the connection."""
        self._closed = True
        if self._task is not None and not self._task.done():
            self._queue.put_nowait(None)
            await self._task
        await self._close_backend()

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            self._inflight = [item]
            while len(self._inflight) < MAX_BATCH and not self._queue.empty():
                nxt = self._queue.get_nowait()
                if nxt is None:
                    await self._commit(self._inflight)
                    return
                self._inflight.append(nxt)
            await self._commit(self._inflight)
            self._inflight = []

    def _writer_done(self, _task: asyncio.Task[None]) -> None:
        self._closed = True
        pending, self._inflight = self._inflight, []
        while not self._queue.empty():
            if (item := self._queue.get_nowait()) is not None:
                pending.append(item)
        self._fail(pending, RuntimeError("the audit writer stopped"))

    def _fail(self, batch: list[_Waiter], exc: BaseException) -> None:
        error = self._unavailable(exc)
        for _, _, future in batch:
            if not future.done():
                future.set_exception(error)

    async def _commit(self, batch: list[_Waiter]) -> None:
        """One transaction, then wake every waiter. A failure rolls back (so the next batch
        starts clean) and fails every waiter closed."""
        values = [v for v, _, _ in batch]
        calls = [principal for _, principal, _ in batch if principal is not None]
        try:
            rows = await self._write_batch(values, calls)
        except Exception as exc:
            self._fail(batch, exc)
            return
        self.head = AuditHead(rows[-1][0], rows[-1][-1], rows[-1][1])
        for (_, _, future), row in zip(batch, rows, strict=True):
            if not future.done():
                future.set_result(record_of(row))

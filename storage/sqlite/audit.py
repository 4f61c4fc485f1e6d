"""Appending to the audit log on SQLite: durable before the answer, group-committed.

A call may not answer before its row is durable: the audit log is the evidence the product
sells, so "we did it but forgot to write it down" must be impossible. Hence WAL with
``synchronous=FULL``, checked at open, and a refusal to run without it.

One writer task owns the ``audit`` connection and group-commits: everything queued while the
previous commit was in flight goes into the next transaction, one thread hop and one fsync per
batch. Each batch re-reads the head inside ``BEGIN IMMEDIATE``, so a server and a CLI process
appending at once never fork the chain. The CLI appends through this same class (a batch of one).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from mopsgate.governance.audit_chain import (
    COLUMNS,
    AuditEvent,
    AuditHead,
    AuditRecord,
    StoredRow,
    chain_rows,
    event_values,
    record_of,
)
from mopsgate.governance.errors import AuditUnavailable
from mopsgate.storage.errors import SchemaMismatch, StorageUnavailable
from mopsgate.storage.migrate import require_head
from mopsgate.storage.sqlite.db import BUSY_TIMEOUT_MS, SqliteDb
from mopsgate.storage.sqlite.diagnose import diagnose
from mopsgate.storage.sqlite.rates import record_calls
from mopsgate.storage.sqlite.schema import prepare

TABLE = "audit_log"
MAX_BATCH = 2000
# Built from module constants only; every value goes through a placeholder.
INSERT_SQL = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"  # noqa: S608
HEAD_SQL = f"SELECT seq, row_hash FROM {TABLE} ORDER BY seq DESC LIMIT 1"  # noqa: S608
RECORDS_SQL = "INSERT OR IGNORE INTO audit_records (ref, seq) VALUES (?, ?)"
_RECORDS = COLUMNS.index("records")


def read_head(conn: sqlite3.Connection) -> AuditHead:
    row = conn.execute(HEAD_SQL).fetchone()
    return AuditHead() if row is None else AuditHead(int(row[0]), str(row[1]))


def commit_rows(
    conn: sqlite3.Connection, batch: Sequence[tuple[Any, ...]], calls: Sequence[str] = ()
) -> list[StoredRow]:
    """A write unit: chain the batch after the head read inside the transaction, insert it.
    ``calls`` (one principal per counted tool call) go into the shared calls-per-minute window
    in the same transaction, so counting a call costs no commit of its own."""
    rows = chain_rows(read_head(conn), batch)
    conn.executemany(INSERT_SQL, rows)
    conn.executemany(RECORDS_SQL, _record_refs(rows))
    record_calls(conn, calls, time.time())
    return rows


def _record_refs(rows: Sequence[StoredRow]) -> Iterator[tuple[str, int]]:
    """(ref, seq) for the reference index, from each row's stored (hashed) records column."""
    for row in rows:
        if isinstance(stored := row[_RECORDS], str):
            for ref in set(json.loads(stored)):
                yield str(ref), int(row[0])


def unavailable(path: str | Path, exc: BaseException) -> AuditUnavailable:
    cause = exc.__cause__ if isinstance(exc, StorageUnavailable) and exc.__cause__ else exc
    named = diagnose(path, cause)
    return AuditUnavailable(
        "The audit log could not be written, so the call was refused."
        + (f" Cause: {named[0]}" if named else ""),
        hint=named[1]
        if named
        else (
            f"Check that {path} and its directory are writable, that the disk is not full and "
            f"that no other process holds a long write lock on it, then retry. ({cause})"
        ),
        details={"path": str(path), "cause": f"{type(cause).__name__}: {cause}"},
    )


def _durability(conn: sqlite3.Connection) -> tuple[str, int]:
    return (
        str(conn.execute("PRAGMA journal_mode").fetchone()[0]),
        int(conn.execute("PRAGMA synchronous").fetchone()[0]),
    )


def _check_durability(path: str | Path, journal_mode: str, synchronous: int) -> None:
    if journal_mode.lower() != "wal" or synchronous != 2:
        raise AuditUnavailable(
            f"The audit log at {path} is not durable (journal_mode={journal_mode}, "
            f"synchronous={synchronous}); refusing to run.",
            hint="It needs WAL on a local filesystem with synchronous=FULL; "
            "network filesystems and in-memory databases cannot hold the audit log.",
            details={"path": str(path)},
        )


# (stored values, the principal whose calls per minute it counts toward or None, its future)
_Waiter = tuple[tuple[Any, ...], str | None, "asyncio.Future[AuditRecord]"]


class SqliteAuditStore:
    """The audit writer (an :class:`~mopsgate.governance.ports.AuditSink`). Use :meth:`open`,
    :meth:`append`, :meth:`close`."""

    def __init__(self, db: SqliteDb) -> None:
        self.path = db.path
        self.db = db
        self._queue: asyncio.Queue[_Waiter | None] = asyncio.Queue()
        self._closed = False
        self.head = AuditHead()
        self._task: asyncio.Task[None] | None = None
        self._inflight: list[_Waiter] = []

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        prepare_schema: bool = True,
    ) -> SqliteAuditStore:
        """Open its own connection, verify durability and the schema version; refuse
        otherwise. ``prepare_schema=False`` when the caller (``open_storage``) already did."""
        try:
            db = await SqliteDb.open(path, name="audit", busy_timeout_ms=busy_timeout_ms)
        except StorageUnavailable as exc:
            raise unavailable(path, exc) from exc
        try:
            _check_durability(path, *await db.call(_durability))
            if prepare_schema:
                require_head(str(path), await db.write(prepare))
            head = await db.call(read_head)
        except SchemaMismatch:
            await db.close()
            raise
        except StorageUnavailable as exc:
            await db.close()
            raise unavailable(path, exc) from exc
        except BaseException:
            await db.close()
            raise
        log = cls(db)
        log.head = head
        log._task = asyncio.create_task(log._run(), name="mopsgate-audit-writer")
        log._task.add_done_callback(log._writer_done)
        return log

    async def append(self, event: AuditEvent, *, count_call: bool = False) -> AuditRecord:
        """Return only once the row is committed with synchronous=FULL; raise
        :class:`AuditUnavailable` otherwise, and the caller must refuse the call. With
        ``count_call`` the row also counts toward the principal's calls per minute."""
        if self._closed or self._task is None or self._task.done():
            raise unavailable(self.path, RuntimeError("the audit log is closed"))
        try:
            values = event_values(event)
        except (ValueError, TypeError) as exc:
            raise unavailable(self.path, exc) from exc
        future: asyncio.Future[AuditRecord] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((values, event.principal if count_call else None, future))
        return await future

    async def close(self) -> None:
        """Let queued appends commit, then stop the writer and close the connection."""
        self._closed = True
        if self._task is not None and not self._task.done():
            self._queue.put_nowait(None)
            await self._task
        await self.db.close()

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
        """However the writer ends (closed, cancelled, crashed, even before it started), nobody
        may wait forever, and nobody may believe a row is durable when we cannot say so."""
        self._closed = True
        pending, self._inflight = self._inflight, []
        while not self._queue.empty():
            if (item := self._queue.get_nowait()) is not None:
                pending.append(item)
        self._fail(pending, RuntimeError("the audit writer stopped"))

    def _fail(self, batch: list[_Waiter], exc: BaseException) -> None:
        error = unavailable(self.path, exc)
        for _, _, future in batch:
            if not future.done():
                future.set_exception(error)

    async def _commit(self, batch: list[_Waiter]) -> None:
        """One transaction, one fsync, one thread hop, then wake every waiter. A failure rolls
        back (so the next batch starts clean) and fails every waiter closed."""
        values = [v for v, _, _ in batch]
        calls = [principal for _, principal, _ in batch if principal is not None]
        try:
            rows = await self.db.write(lambda conn: commit_rows(conn, values, calls))
        except Exception as exc:
            self._fail(batch, exc)
            return
        self.head = AuditHead(rows[-1][0], rows[-1][-1])
        for (_, _, future), row in zip(batch, rows, strict=True):
            if not future.done():
                future.set_result(record_of(row))

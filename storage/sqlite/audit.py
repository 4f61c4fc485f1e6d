"""Appending to the audit log on SQLite: durable before the answer, group-committed.

A call may not answer before its row is durable: the audit log is the evidence the product
sells, so "we did it but forgot to write it down" must be impossible. Hence WAL with
``synchronous=FULL``, checked at open, and a refusal to run without it.

The ``audit`` connection's own thread commits the rows, group-committed
(``storage/group_commit.py``): one hop to that thread, one fsync and one wake-up of the event
loop per batch. Each batch re-reads the head inside ``BEGIN
IMMEDIATE``, so a server and a CLI process appending at once never fork the chain. The CLI
appends through this same class (a batch of one).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mopsgate.governance.audit_chain import COLUMNS, AuditHead, StoredRow, chain_rows
from mopsgate.governance.errors import AuditUnavailable
from mopsgate.governance.notify_events import audit_notices
from mopsgate.storage.audit_index import indexed_refs
from mopsgate.storage.errors import SchemaMismatch, StorageUnavailable
from mopsgate.storage.group_commit import GroupCommitLog, Settle
from mopsgate.storage.migrate import require_head
from mopsgate.storage.sqlite.db import BUSY_TIMEOUT_MS, SqliteDb
from mopsgate.storage.sqlite.diagnose import diagnose
from mopsgate.storage.sqlite.filesystem import network_filesystem
from mopsgate.storage.sqlite.outbox import enqueue
from mopsgate.storage.sqlite.rates import record_calls
from mopsgate.storage.sqlite.schema import prepare

TABLE = "audit_log"
# Built from module constants only; every value goes through a placeholder.
INSERT_SQL = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"  # noqa: S608
HEAD_SQL = f"SELECT seq, row_hash, ts FROM {TABLE} ORDER BY seq DESC LIMIT 1"  # noqa: S608
RECORDS_SQL = "INSERT OR IGNORE INTO audit_records (ref, seq) VALUES (?, ?)"


def read_head(conn: sqlite3.Connection) -> AuditHead:
    row = conn.execute(HEAD_SQL).fetchone()
    return AuditHead() if row is None else AuditHead(int(row[0]), str(row[1]), str(row[2]))


def commit_rows(
    conn: sqlite3.Connection,
    batch: Sequence[tuple[Any, ...]],
    calls: Sequence[str] = (),
    pruned: dict[str, int] | None = None,
) -> list[StoredRow]:
    """A write unit: chain the batch after the head read inside the transaction, insert it.
    ``calls`` (one principal per counted tool call) go into the shared calls-per-minute window
    in the same transaction, so counting a call costs no commit of its own; so do the notices
    rows raise for the notification sender (``governance/notify_events.py``). ``pruned``: see
    :func:`~mopsgate.storage.sqlite.rates.record_calls`."""
    rows = chain_rows(read_head(conn), batch)
    conn.executemany(INSERT_SQL, rows)
    conn.executemany(RECORDS_SQL, indexed_refs(rows))
    record_calls(conn, calls, time.time(), pruned)
    if notices := audit_notices(rows):
        enqueue(conn, notices, datetime.now(UTC))
    return rows


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
    if str(path) != ":memory:" and (kind := network_filesystem(path)) is not None:
        raise AuditUnavailable(
            f"The audit log at {path} is on a network filesystem ({kind}); refusing to run.",
            hint="SQLite's WAL and locks need a single host: put the state directory on a "
            "local disk (--home / MOPSGATE_HOME), or use PostgreSQL for several replicas.",
            details={"path": str(path), "filesystem": kind},
        )
    if journal_mode.lower() != "wal" or synchronous != 2:
        raise AuditUnavailable(
            f"The audit log at {path} is not durable (journal_mode={journal_mode}, "
            f"synchronous={synchronous}); refusing to run.",
            hint="It needs WAL on a local filesystem with synchronous=FULL; "
            "network filesystems and in-memory databases cannot hold the audit log.",
            details={"path": str(path)},
        )


class SqliteAuditStore(GroupCommitLog):
    """The audit writer (an :class:`~mopsgate.governance.ports.AuditSink`) on SQLite. Use
    :meth:`open`, :meth:`append`, :meth:`close`."""

    def __init__(self, db: SqliteDb) -> None:
        super().__init__()
        self.path = db.path
        self.db = db
        self._pruned: dict[str, int] = {}  # record_calls', used on the connection's thread only

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
        log._start()
        return log

    def _begin(self, values: Sequence[tuple[Any, ...]], calls: Sequence[str], done: Settle) -> None:
        """One ``BEGIN IMMEDIATE`` transaction and one fsync on the connection's thread, which
        wakes the event loop once, with the batch's outcome."""
        loop = asyncio.get_running_loop()
        self.db.submit(
            lambda conn: commit_rows(conn, values, calls, self._pruned),
            lambda outcome: loop.call_soon_threadsafe(done, outcome),
        )

    def _unavailable(self, exc: BaseException) -> AuditUnavailable:
        return unavailable(self.path, exc)

    async def _close_backend(self) -> None:
        await self.db.close()

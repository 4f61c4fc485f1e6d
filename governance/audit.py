"""The tamper-evident audit log.

Every call — allowed, denied or failed — becomes one row, and a call may not answer before its
row is durable: the audit log is the evidence the product sells, so "we did it but forgot to
write it down" must be impossible. Hence ``synchronous=FULL`` and a refusal to run without it.

Rows are hash-chained (``row_hash = sha256(prev_hash || canonical JSON of the content)``) so an
edited, deleted, inserted or reordered row is caught by :mod:`governance.audit_verify`.
Limits, stated plainly: the hash is unkeyed, so someone who can write the DB *and* recompute the
whole chain, or who truncates the tail, is only caught against an exported checkpoint.

One writer task owns the connection and group-commits: everything queued while the previous
commit was in flight goes into the next transaction. That keeps the durability promise while a
single fsync is shared by many calls.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from json import encoder as _json_encoder
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mopsgate.governance.call_window import SCHEMA as CALL_WINDOW_SCHEMA
from mopsgate.governance.call_window import record_calls
from mopsgate.governance.errors import AuditUnavailable
from mopsgate.governance.pii import mask_arguments, mask_text

GENESIS_HASH = "0" * 64
TABLE = "audit_log"
BUSY_TIMEOUT_MS = 5000
MAX_BATCH = 2000
MAX_TEXT = 2000

# Extend here (and only here) when a new kind of event is audited.
EventKind = Literal[
    "tool_call", "manifest_reload", "review", "freeze", "token", "change", "startup"
]
Transport = Literal["stdio", "http", "memory", "cli"]
Decision = Literal["allowed", "denied", "error", "n/a"]
Outcome = Literal["ok", "denied", "error", "refused"]

EVENT_COLUMNS = (
    "kind",
    "principal",
    "client_name",
    "client_version",
    "transport",
    "tool",
    "connector",
    "arguments",
    "decision",
    "rule_id",
    "reason",
    "outcome",
    "error_code",
    "result_summary",
    "upstream_calls",
    "duration_ms",
    "change_id",
    "manifest_digest",
)
CONTENT_COLUMNS = ("seq", "ts", *EVENT_COLUMNS)
COLUMNS = (*CONTENT_COLUMNS, "prev_hash", "row_hash")

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    principal TEXT,
    client_name TEXT,
    client_version TEXT,
    transport TEXT,
    tool TEXT,
    connector TEXT,
    arguments TEXT NOT NULL,
    decision TEXT NOT NULL,
    rule_id TEXT,
    reason TEXT,
    outcome TEXT NOT NULL,
    error_code TEXT,
    result_summary TEXT,
    upstream_calls INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    change_id TEXT,
    manifest_digest TEXT,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL
)"""
# Built from module constants only; every value goes through a placeholder.
_PLACEHOLDERS = ", ".join("?" * len(COLUMNS))
INSERT_SQL = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({_PLACEHOLDERS})"  # noqa: S608
HEAD_SQL = f"SELECT seq, row_hash FROM {TABLE} ORDER BY seq DESC LIMIT 1"  # noqa: S608


class AuditEvent(BaseModel):
    """What happened. ``arguments`` should already be masked by the caller; the writer masks
    again anyway, because one forgotten call site must not leak PII into a years-long record."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: EventKind
    principal: str | None = None
    client_name: str | None = None
    client_version: str | None = None
    transport: Transport | None = None
    tool: str | None = None
    connector: str | None = None
    arguments: dict[str, Any] = Field(default_factory=dict)
    decision: Decision = "n/a"
    rule_id: str | None = None
    reason: str | None = None
    outcome: Outcome = "ok"
    error_code: str | None = None
    result_summary: str | None = None
    upstream_calls: int = Field(default=0, ge=0)
    duration_ms: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    change_id: str | None = None
    manifest_digest: str | None = None


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    row_hash: str
    ts: str


# --- the chain: one definition shared by the async writer, the sync helper and the verifier ---

_c_make_encoder = getattr(_json_encoder, "c_make_encoder", None)
_PY_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _no_default(obj: object) -> Any:
    raise TypeError(f"not canonical JSON: {type(obj).__name__}")


# Built once: the verifier hashes a million rows, and json.dumps rebuilds its encoder per call.
_C_ITERENCODE = (
    _c_make_encoder(
        None, _no_default, _json_encoder.encode_basestring, None, ":", ",", False, False, False
    )
    if _c_make_encoder is not None
    else None
)


def canonical_json(content: Sequence[Any]) -> str:
    """Compact JSON array of the content columns in :data:`CONTENT_COLUMNS` order."""
    if _C_ITERENCODE is not None:
        return "".join(_C_ITERENCODE(content, 0))
    return _PY_ENCODER.encode(list(content))


def compute_hash(prev_hash: str, content: Sequence[Any]) -> str:
    return hashlib.sha256((prev_hash + canonical_json(content)).encode("utf-8")).hexdigest()


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def event_values(event: AuditEvent) -> tuple[Any, ...]:
    """The stored (masked, bounded) values of an event, in :data:`EVENT_COLUMNS` order."""
    data = event.model_dump()
    data["arguments"] = json.dumps(
        mask_arguments(event.arguments), ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )
    for name in ("reason", "result_summary"):
        if data[name] is not None:
            data[name] = mask_text(data[name], MAX_TEXT)
    for name in ("principal", "client_name", "client_version", "tool", "connector", "rule_id"):
        if data[name] is not None:
            data[name] = mask_text(data[name], 256)
    data["duration_ms"] = round(float(data["duration_ms"]), 3)
    return tuple(data[name] for name in EVENT_COLUMNS)


def chain_rows(
    head: Sequence[Any] | None, batch: Iterable[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    """Number, timestamp and chain a batch after ``head`` (the last stored seq and hash)."""
    seq, prev = (int(head[0]), str(head[1])) if head is not None else (0, GENESIS_HASH)
    rows = []
    for values in batch:
        seq += 1
        content = (seq, utc_now(), *values)
        prev_hash, prev = prev, compute_hash(prev, content)
        rows.append((*content, prev_hash, prev))
    return rows


def _unavailable(path: str | Path, exc: BaseException) -> AuditUnavailable:
    return AuditUnavailable(
        "The audit log could not be written, so the call was refused.",
        hint=(
            f"Check that {path} and its directory are writable, that the disk is not full and "
            f"that no other process holds a long write lock on it, then retry. ({exc})"
        ),
        details={"path": str(path), "cause": f"{type(exc).__name__}: {exc}"},
    )


def _check_durability(path: str | Path, journal_mode: object, synchronous: object) -> None:
    if str(journal_mode).lower() != "wal" or synchronous != 2:
        raise AuditUnavailable(
            f"The audit log at {path} is not durable (journal_mode={journal_mode}, "
            f"synchronous={synchronous}); refusing to run.",
            hint="It needs WAL on a local filesystem with synchronous=FULL; "
            "network filesystems and in-memory databases cannot hold the audit log.",
            details={"path": str(path)},
        )


_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA synchronous")


def _configure_sync(conn: sqlite3.Connection, path: str | Path, busy_timeout_ms: int) -> None:
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    journal = conn.execute(_PRAGMAS[0]).fetchone()[0]
    conn.execute(_PRAGMAS[1])
    _check_durability(path, journal, conn.execute(_PRAGMAS[2]).fetchone()[0])
    conn.execute(SCHEMA)
    conn.execute(CALL_WINDOW_SCHEMA)


def commit_rows(
    conn: sqlite3.Connection, batch: Iterable[tuple[Any, ...]], calls: Sequence[str] = ()
) -> list[tuple[Any, ...]]:
    """Chain and insert a batch in one ``BEGIN IMMEDIATE`` transaction: re-reading the head
    inside it is what keeps a server and a CLI process from forking the chain. Shared by the
    async writer (run on a worker thread, one hop per batch) and the sync CLI path. ``calls``
    (one principal per counted tool call) go into the shared calls-per-minute window in the
    same transaction, so counting a call costs no commit of its own."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        rows = chain_rows(conn.execute(HEAD_SQL).fetchone(), batch)
        conn.executemany(INSERT_SQL, rows)
        record_calls(conn, calls, time.time())
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return rows


def _open_sync(path: str | Path, busy_timeout_ms: int) -> tuple[sqlite3.Connection, Any]:
    conn = sqlite3.connect(
        str(path), isolation_level=None, timeout=busy_timeout_ms / 1000, check_same_thread=False
    )
    try:
        _configure_sync(conn, path, busy_timeout_ms)
        return conn, conn.execute(HEAD_SQL).fetchone()
    except BaseException:
        conn.close()
        raise


def append_event_sync(
    db_path: str | Path, event: AuditEvent, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> AuditRecord:
    """Append one event from synchronous code (CLI commands) with the same chaining rules.
    ``BEGIN IMMEDIATE`` plus re-reading the head means a running server and the CLI never fork
    the chain."""
    try:
        values = event_values(event)
        conn = sqlite3.connect(str(db_path), isolation_level=None, timeout=busy_timeout_ms / 1000)
    except (sqlite3.Error, OSError, ValueError, TypeError) as exc:
        raise _unavailable(db_path, exc) from exc
    try:
        _configure_sync(conn, db_path, busy_timeout_ms)
        (row,) = commit_rows(conn, [values])
    except sqlite3.Error as exc:
        raise _unavailable(db_path, exc) from exc
    finally:
        conn.close()
    return AuditRecord(seq=row[0], row_hash=row[-1], ts=row[1])


# (stored values, the principal whose calls-per-minute it counts toward or None, its future)
_Waiter = tuple[tuple[Any, ...], str | None, "asyncio.Future[AuditRecord]"]


class AuditLog:
    """The async writer. Use :meth:`open`, :meth:`append`, :meth:`close`."""

    def __init__(self, conn: sqlite3.Connection, path: str | Path) -> None:
        self.path = path
        self._conn = conn
        self._queue: asyncio.Queue[_Waiter | None] = asyncio.Queue()
        self._closed = False
        self.head: tuple[int, str] = (0, GENESIS_HASH)
        self._task: asyncio.Task[None] | None = None
        self._inflight: list[_Waiter] = []

    @classmethod
    async def open(cls, path: str | Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> AuditLog:
        """Open (creating if needed) and verify durability settings; refuse otherwise."""
        try:
            conn, head = await asyncio.to_thread(_open_sync, path, busy_timeout_ms)
        except (sqlite3.Error, OSError) as exc:
            raise _unavailable(path, exc) from exc
        log = cls(conn, path)
        if head is not None:
            log.head = (int(head[0]), str(head[1]))
        log._task = asyncio.create_task(log._run(), name="mopsgate-audit-writer")
        log._task.add_done_callback(log._writer_done)
        return log

    async def append(self, event: AuditEvent, *, count_call: bool = False) -> AuditRecord:
        """Return only once the row is committed with synchronous=FULL; raise
        :class:`AuditUnavailable` otherwise, and the caller must refuse the call. With
        ``count_call`` the row also counts toward the principal's calls per minute."""
        if self._closed or self._task is None or self._task.done():
            raise _unavailable(self.path, RuntimeError("the audit log is closed"))
        try:
            values = event_values(event)
        except (ValueError, TypeError) as exc:
            raise _unavailable(self.path, exc) from exc
        future: asyncio.Future[AuditRecord] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((values, event.principal if count_call else None, future))
        return await future

    async def close(self) -> None:
        """Let queued appends commit, then stop the writer and close the connection."""
        self._closed = True
        if self._task is not None and not self._task.done():
            self._queue.put_nowait(None)
            await self._task
        await asyncio.to_thread(self._conn.close)  # a no-op when already closed

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
        error = _unavailable(self.path, exc)
        for _, _, future in batch:
            if not future.done():
                future.set_exception(error)

    async def _commit(self, batch: list[_Waiter]) -> None:
        """One transaction, one fsync, one thread hop, then wake every waiter. A failure rolls
        back (so the next batch starts clean) and fails every waiter closed.

        The commit runs on a worker thread with the stdlib driver rather than through aiosqlite:
        aiosqlite pays a thread round trip per statement (~0.15-0.25 ms each, five per commit),
        which was most of the latency every governed call paid (bench section 1)."""
        try:
            values = [values for values, _, _ in batch]
            calls = [principal for _, principal, _ in batch if principal is not None]
            rows = await asyncio.to_thread(commit_rows, self._conn, values, calls)
        except Exception as exc:
            self._fail(batch, exc)
            return
        self.head = (rows[-1][0], rows[-1][-1])
        for (_, _, future), row in zip(batch, rows, strict=True):
            if not future.done():
                future.set_result(AuditRecord(seq=row[0], row_hash=row[-1], ts=row[1]))

"""Reading the audit log on SQLite: head, tail, every row in order, and verification.

Read-only connections only: auditors run these against a copy or beside a live server, and
nothing here may ever write (nor create an empty file where a log was expected). Verification
checks rows as plain tuples (no models) and, on large logs, splits the seq range across forked
processes — a million rows must check in seconds, or nobody will run it.

What verification can and cannot prove: it catches any edited, deleted, inserted or reordered
row *inside* the log. It cannot see rows cut from the end, or a chain an attacker rebuilt from
scratch; those need a checkpoint (the head hash) kept somewhere the server cannot write.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from mopsgate.governance.audit_chain import (
    BASE_CONTENT_COLUMNS,
    COLUMNS,
    EXTENSION_COLUMNS,
    AuditHead,
    AuditRow,
    DigestRow,
    Segment,
    StoredRow,
    UnreadableRow,
    VerifyResult,
    check_digest_rows,
    check_rows,
    split_ranges,
    stitch,
)
from mopsgate.governance.audit_query import AuditQuery
from mopsgate.governance.progress import Progress, Steps
from mopsgate.storage.errors import StorageNotFound, StorageUnavailable
from mopsgate.storage.migrate import HEAD, too_new
from mopsgate.storage.query_sql import query_where
from mopsgate.storage.sqlite.audit import TABLE, read_head
from mopsgate.storage.sqlite.db import SqliteDb, readonly_uri
from mopsgate.storage.sqlite.readonly import ReadSource, open_for_reading, read_in_place
from mopsgate.storage.sqlite.schema import version_of


def _present(conn: sqlite3.Connection) -> set[str]:
    return {str(r[1]) for r in conn.execute(f"PRAGMA table_info({TABLE})")}


def select_sql(conn: sqlite3.Connection) -> str:
    """SELECT of every column in COLUMNS order. A copy from before a column existed (audit
    verify on old evidence) reads it as NULL, which is what the chain hashed for it."""
    present = _present(conn)
    cols = [c if c in present else f"NULL AS {c}" for c in COLUMNS]
    return f"SELECT {', '.join(cols)} FROM {TABLE}"  # noqa: S608 - constants only


def digest_sql(conn: sqlite3.Connection) -> str | None:
    """SELECT of (seq, prev_hash, row_hash, prev_hash || the hashed content as SQLite's JSON):
    what :func:`check_digest_rows` takes. The content is the JSON array ``hashed_content``
    hashes (the extension columns only up to the last one set). None when this SQLite has no
    JSON functions: then rows are checked the slower way, from their values."""
    try:
        conn.execute("SELECT json_array(1)").fetchone()
    except sqlite3.Error:
        return None
    present = _present(conn)

    def col(name: str) -> str:
        return name if name in present else "NULL"

    base = ", ".join(col(c) for c in BASE_CONTENT_COLUMNS)
    ext = [col(c) for c in EXTENSION_COLUMNS]
    cases = " ".join(
        f"WHEN {ext[i]} IS NOT NULL THEN json_array({base}, {', '.join(ext[: i + 1])})"
        for i in reversed(range(len(ext)))
    )
    content = f"CASE {cases} ELSE json_array({base}) END"
    return f"SELECT seq, prev_hash, row_hash, CAST(prev_hash || {content} AS BLOB) FROM {TABLE}"  # noqa: S608 - constants only


_BOUNDS = f"SELECT MIN(seq), MAX(seq), COUNT(*) FROM {TABLE}"  # noqa: S608 - constants only
PARALLEL_MIN_ROWS = 200_000
CHUNK_ROWS = 50_000  # per progress step: a million rows report 20 times
PAGE = 2000
EMPTY = VerifyResult(True, 0, None, "no audit rows yet")


def _has_table(conn: sqlite3.Connection) -> bool:
    sql = "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?"
    return conn.execute(sql, (TABLE,)).fetchone() is not None


def _bounds(conn: sqlite3.Connection) -> tuple[int, int, int] | None:
    if not _has_table(conn):
        return None
    lo, hi, count = conn.execute(_BOUNDS).fetchone()
    return (int(lo), int(hi), int(count)) if count else None


def _tail(conn: sqlite3.Connection, n: int) -> list[StoredRow]:
    if not _has_table(conn):
        return []
    sql = f"{select_sql(conn)} ORDER BY seq DESC LIMIT ?"
    rows = conn.execute(sql, (max(0, n),)).fetchall()
    return list(reversed(rows))


def _page(conn: sqlite3.Connection, after: int) -> list[StoredRow]:
    if not _has_table(conn):
        return []
    sql = f"{select_sql(conn)} WHERE seq > ? ORDER BY seq LIMIT ?"
    return conn.execute(sql, (after, PAGE)).fetchall()


def _range_rows(conn: sqlite3.Connection, select: str, lo: int, hi: int) -> Iterator[Any]:
    """Rows of ``select`` in [lo, hi]; a read error becomes :class:`UnreadableRow`, so the
    check can say where reading stopped instead of failing the whole verification."""
    try:
        cursor = conn.execute(f"{select} WHERE seq BETWEEN ? AND ? ORDER BY seq", (lo, hi))
        cursor.arraysize = PAGE
        yield from cursor
    except sqlite3.Error as exc:
        raise UnreadableRow(str(exc)) from exc


def _scan_conn(conn: sqlite3.Connection, lo: int, hi: int) -> Segment:
    full = select_sql(conn)
    digest = digest_sql(conn)
    if digest is None:
        return check_rows(_range_rows(conn, full, lo, hi))

    def stored(seq: int) -> StoredRow | None:
        row: StoredRow | None = conn.execute(f"{full} WHERE seq = ?", (seq,)).fetchone()
        return row

    return check_digest_rows(_digest_rows(conn, digest, full, lo, hi), stored)


def _digest_rows(
    conn: sqlite3.Connection, digest: str, full: str, lo: int, hi: int
) -> Iterator[DigestRow]:
    """Digest rows in [lo, hi]. From a row SQLite cannot put in JSON (a BLOB where text was
    written) on, the rows are read whole and given no digest, so each is checked from its
    values and the unreadable one is named exactly as the slower path names it."""
    last = lo - 1
    try:
        cursor = conn.execute(f"{digest} WHERE seq BETWEEN ? AND ? ORDER BY seq", (lo, hi))
        cursor.arraysize = PAGE
        for row in cursor:
            last = row[0]
            yield row
        return
    except sqlite3.Error:
        pass
    for row in _range_rows(conn, full, last + 1, hi):
        yield row[0], row[-2], row[-1], b""


async def _scan_chunks(db: SqliteDb, chunks: list[tuple[int, int]], steps: Steps) -> list[Segment]:
    """The chunks in order, one thread hop each, on this process's connection."""
    segments = []
    for a, b in chunks:
        segments.append(await db.read(partial(_scan_conn, lo=a, hi=b)))
        await _checked(steps, segments[-1])
    return segments


async def _checked(steps: Steps, segment: Segment) -> None:
    await steps.advance(segment.rows, f"{steps.done + segment.rows} of {steps.total} rows checked")


def _scan(source: ReadSource, lo: int, hi: int) -> Segment:
    """One range, in a forked worker process with its own read-only connection."""
    conn = sqlite3.connect(readonly_uri(source.path, immutable=source.immutable), uri=True)
    try:
        return _scan_conn(conn, lo, hi)
    finally:
        conn.close()


# --- queries (mopsgate audit query) ---


def _query_page(
    conn: sqlite3.Connection, query: AuditQuery, after: int, size: int
) -> list[StoredRow]:
    if not _has_table(conn):
        return []
    _require_evidence_columns(conn, query)
    where, params = query_where(query, after, "?")
    sql = f"{select_sql(conn)} WHERE {where} ORDER BY seq LIMIT ?"
    return conn.execute(sql, (*params, size)).fetchall()


def _require_evidence_columns(conn: sqlite3.Connection, query: AuditQuery) -> None:
    """A log from before schema 7 has no use cases or record references to filter on: say
    so rather than answer "nothing"."""
    if query.use_case is None and query.record is None:
        return
    sql = "SELECT 1 FROM sqlite_master WHERE type='table' AND name='audit_records'"
    if conn.execute(sql).fetchone() is None:
        raise StorageUnavailable(
            "this audit log was written before mopsgate recorded use cases and record "
            "references (schema version 7), so it cannot be queried by --use-case or --record",
            hint="Query it by --principal, --tool, --change, --decision, --since and --until.",
        )


def _check_version(conn: sqlite3.Connection) -> int | None:
    return version_of(conn)


class SqliteAuditReader:
    """The :class:`~mopsgate.storage.api.AuditReader` for SQLite. Every operation opens a
    read-only connection on a thread of its own and closes it when done."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._source = read_in_place(self.path)

    async def head(self) -> AuditHead:
        db = await self._open()
        try:
            return await db.read(lambda c: read_head(c) if _has_table(c) else AuditHead())
        finally:
            await db.close()

    async def tail(self, n: int) -> list[AuditRow]:
        db = await self._open()
        try:
            return [AuditRow.of(row) for row in await db.read(partial(_tail, n=n))]
        finally:
            await db.close()

    async def rows(self, after_seq: int = 0) -> AsyncIterator[AuditRow]:
        """Every row with seq > ``after_seq``, in order, one page per hop."""
        db = await self._open()
        try:
            last = after_seq
            while True:
                page = await db.read(partial(_page, after=last))
                for row in page:
                    yield AuditRow.of(row)
                if len(page) < PAGE:
                    return
                last = int(page[-1][0])
        finally:
            await db.close()

    async def query(self, query: AuditQuery) -> AsyncIterator[AuditRow]:
        """The matching rows in seq order, one page per hop, at most ``query.limit``."""
        db = await self._open()
        try:
            last, left = 0, query.limit
            while left is None or left > 0:
                size = PAGE if left is None else min(PAGE, left)
                unit = partial(_query_page, query=query, after=last, size=size)
                page = await db.read(unit)
                for row in page:
                    yield AuditRow.of(row)
                if len(page) < size:
                    return
                last = int(page[-1][0])
                left = None if left is None else left - len(page)
        finally:
            await db.close()

    async def verify(
        self, *, workers: int | None = None, progress: Progress | None = None
    ) -> VerifyResult:
        """Check the whole chain; report the first bad row. The seq range is checked in chunks
        of about CHUNK_ROWS rows, and ``progress`` hears of the rows checked after each."""
        parts = workers or os.cpu_count() or 1
        db = await self._open()
        try:
            bounds = await db.read(_bounds)
            if bounds is None:
                return EMPTY
            lo, hi, count = bounds
            steps = Steps(progress, count)
            chunks = split_ranges(lo, hi, max(parts, -(-count // CHUNK_ROWS)))
            if parts < 2 or count < PARALLEL_MIN_ROWS:
                return stitch(await _scan_chunks(db, chunks, steps))
        finally:
            await db.close()  # joins our thread: a fork below must find none of ours alive
        return stitch(await self._scan_parallel(chunks, parts, steps))

    async def close(self) -> None:
        """Nothing stays open between operations; a private copy (see ``readonly.py``) goes."""
        self._source.close()

    async def _scan_parallel(
        self, chunks: list[tuple[int, int]], parts: int, steps: Steps
    ) -> list[Segment]:
        """Check the chunks in ``parts`` forked processes. Fork is only safe with no other
        thread alive (one might hold a lock the child needs), so inside a server, or under a
        test driving the CLI from a thread, the chunks are checked one after the other."""
        if threading.active_count() > 1:
            db = await self._open()
            try:
                return await _scan_chunks(db, chunks, steps)
            finally:
                await db.close()
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=parts, mp_context=context) as pool:
            futures = [
                asyncio.wrap_future(pool.submit(_scan, self._source, a, b)) for a, b in chunks
            ]
            for done in asyncio.as_completed(futures):
                await _checked(steps, await done)
            return [f.result() for f in futures]

    async def _open(self) -> SqliteDb:
        if not Path(self.path).is_file():
            raise StorageNotFound(
                f"there is no database at {self.path}",
                hint="Run the server once to create it, or point --home (or MOPSGATE_HOME) at "
                "the right state directory.",
                details={"path": self.path},
            )
        # Read-only media are read without writing beside them (readonly.py).
        db, self._source = await open_for_reading(self.path, name="audit-read", source=self._source)
        try:
            current = await db.read(_check_version)
        except BaseException:
            await db.close()
            raise
        if current is not None and current > HEAD:
            await db.close()
            raise too_new(self.path, current)
        return db

"""Reading the audit log on PostgreSQL: head, tail, every row in order, and verification.

Read-only transactions only (``BEGIN … READ ONLY``): nothing here can write, and nothing creates
a schema where none is. Verification reads the whole log in one snapshot through a server-side
cursor, page by page, and checks each page with the same ``check_rows``/``stitch`` as SQLite,
so it runs beside live replicas appending and judges exactly the rows that were committed when
it started. The head is the last row of ``audit_log`` as stored (not the writer's ``audit_head``),
so a truncated tail is visible against an exported checkpoint, as on SQLite.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from functools import partial

from mopsgate.governance.audit_chain import (
    COLUMNS,
    AuditHead,
    AuditRow,
    Segment,
    StoredRow,
    VerifyResult,
    check_rows,
    stitch,
)
from mopsgate.governance.audit_query import AuditQuery
from mopsgate.governance.progress import Progress, Steps
from mopsgate.storage.postgres.audit import TABLE
from mopsgate.storage.postgres.db import Conn, PgDb
from mopsgate.storage.postgres.schema import readable_version
from mopsgate.storage.query_sql import query_where

_SELECT = f"SELECT {', '.join(COLUMNS)} FROM {TABLE}"  # noqa: S608 - constants only
PAGE = 2000
EMPTY = VerifyResult(True, 0, None, "no audit rows yet")


async def _head(conn: Conn) -> AuditHead:
    cur = await conn.execute(f"SELECT seq, row_hash FROM {TABLE} ORDER BY seq DESC LIMIT 1")  # noqa: S608
    row = await cur.fetchone()
    return AuditHead() if row is None else AuditHead(int(row[0]), str(row[1]))


async def _tail(conn: Conn, n: int) -> list[StoredRow]:
    cur = await conn.execute(f"{_SELECT} ORDER BY seq DESC LIMIT %s", (max(0, n),))
    return list(reversed(await cur.fetchall()))


async def _page(conn: Conn, after: int) -> list[StoredRow]:
    cur = await conn.execute(f"{_SELECT} WHERE seq > %s ORDER BY seq LIMIT %s", (after, PAGE))
    return await cur.fetchall()


async def _scan(conn: Conn) -> list[Segment]:
    """Every row, in seq order, one page at a time from a server-side cursor (one snapshot);
    each page is checked on its own and the pages are stitched (as ranges are on SQLite)."""
    segments: list[Segment] = []
    async with conn.cursor(name="mopsgate_verify") as cur:
        cur.itersize = PAGE
        await cur.execute(f"{_SELECT} ORDER BY seq")
        while page := await cur.fetchmany(PAGE):
            segments.append(check_rows(page))
            if segments[-1].bad_seq is not None:
                break
    return segments


# --- queries (mopsgate audit query) ---


async def _query_page(conn: Conn, query: AuditQuery, after: int, size: int) -> list[StoredRow]:
    where, params = query_where(query, after, "%s")
    cur = await conn.execute(f"{_SELECT} WHERE {where} ORDER BY seq LIMIT %s", (*params, size))
    return await cur.fetchall()


class PgAuditReader:
    """The :class:`~mopsgate.storage.api.AuditReader` for PostgreSQL. On a storage's own pool,
    or (``audit_reader(cfg)``, for auditors) on a connection it opens per operation."""

    def __init__(self, url: str, *, where: str, db: PgDb | None = None) -> None:
        self.url = url
        self.where = where
        self._db = db

    async def head(self) -> AuditHead:
        async with self._opened() as db:
            return await db.read(_head)

    async def tail(self, n: int) -> list[AuditRow]:
        async with self._opened() as db:
            return [AuditRow.of(row) for row in await db.read(partial(_tail, n=n))]

    async def rows(self, after_seq: int = 0) -> AsyncIterator[AuditRow]:
        """Every row with seq > ``after_seq``, in order, one page per transaction."""
        async with self._opened() as db:
            last = after_seq
            while True:
                page = await db.read(partial(_page, after=last))
                for row in page:
                    yield AuditRow.of(row)
                if len(page) < PAGE:
                    return
                last = int(page[-1][0])

    async def query(self, query: AuditQuery) -> AsyncIterator[AuditRow]:
        """The matching rows in seq order, one page per transaction, at most ``query.limit``."""
        async with self._opened() as db:
            last, left = 0, query.limit
            while left is None or left > 0:
                size = PAGE if left is None else min(PAGE, left)
                page = await db.read(partial(_query_page, query=query, after=last, size=size))
                for row in page:
                    yield AuditRow.of(row)
                if len(page) < size:
                    return
                last = int(page[-1][0])
                left = None if left is None else left - len(page)

    async def verify(
        self, *, workers: int | None = None, progress: Progress | None = None
    ) -> VerifyResult:
        """Check the whole chain in one snapshot; report the first bad row. (``workers`` is
        for SQLite's forked checkers; here the server streams the rows to one checker, in one
        transaction, so ``progress`` hears once, at the end.)"""
        del workers
        async with self._opened() as db:
            segments = await db.read(_scan)
        rows = sum(s.rows for s in segments)
        await Steps(progress, rows).advance(rows, f"{rows} of {rows} rows checked")
        return stitch(segments) if segments else EMPTY

    async def close(self) -> None:
        """Nothing stays open between operations of a reader that owns no pool."""

    @contextlib.asynccontextmanager
    async def _opened(self) -> AsyncIterator[PgDb]:
        if self._db is not None:
            yield self._db
            return
        db = await PgDb.open(self.url, where=self.where, name="audit-read", max_size=1)
        try:
            await db.read(partial(readable_version, where=self.where))
            yield db
        finally:
            await db.close()

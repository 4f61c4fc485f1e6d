"""Appending to the audit log on PostgreSQL: one chain for every replica, group-committed.

Each replica group-commits like the SQLite writer (``storage/group_commit.py``). Across
replicas the chain is serialised by one row, ``audit_head``: each batch's transaction locks it
(``FOR UPDATE``), takes the timestamp inside that lock (``clock_timestamp()`` of the database, so
timestamps never run backwards against seq whichever replica wrote the row), numbers and chains
its rows from the head, inserts them, moves the head and commits with ``synchronous_commit=on``:
the rows are durable before any caller is told so. The next replica's batch waits for the lock
and chains after it. ``audit verify`` is the same check as on SQLite.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from mopsgate.governance.audit_chain import COLUMNS, AuditHead, StoredRow, chain_rows
from mopsgate.governance.errors import AuditUnavailable
from mopsgate.governance.notify_events import audit_notices
from mopsgate.storage.audit_index import indexed_refs
from mopsgate.storage.errors import StorageUnavailable
from mopsgate.storage.group_commit import GroupCommitLog
from mopsgate.storage.postgres.db import Conn, PgDb, unavailable
from mopsgate.storage.postgres.outbox import enqueue
from mopsgate.storage.postgres.rates import record_calls

TABLE = "audit_log"
# Built from module constants only; every value goes through a placeholder.
INSERT_SQL = (
    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(['%s'] * len(COLUMNS))})"
)
LOCK_HEAD_SQL = "SELECT seq, row_hash, clock_timestamp() FROM audit_head WHERE id = 1 FOR UPDATE"
RECORDS_SQL = "INSERT INTO audit_records (ref, seq) VALUES (%s, %s) ON CONFLICT DO NOTHING"
MOVE_HEAD_SQL = "UPDATE audit_head SET seq = %s, row_hash = %s WHERE id = 1"
# A proposal's change is stored before its call's row, with a mark in its document (see
# ``change_rows.AWAITS_ROW``): the commit that chains the row of the call that proposed it (a
# tool call naming the change, from the tool the change records) takes the mark off, so whether
# a change is on record is read from the change alone, never from the log (which an append-only
# role may not read). Only a marked row is locked; every unit that locks a change and then the
# chain's head leaves a marked change alone, so this order (head, then change) makes no cycle.
ON_RECORD_SQL = (
    "UPDATE changes SET data = data - 'awaits_proposal_row' WHERE id = %s "
    "AND data->>'tool' = %s AND (data->>'awaits_proposal_row') IS NOT NULL"
)
_KIND, _TOOL, _CHANGE = (COLUMNS.index(name) for name in ("kind", "tool", "change_id"))


async def commit_rows(
    conn: Conn, batch: Sequence[tuple[Any, ...]], calls: Sequence[str]
) -> list[StoredRow]:
    """A write unit: lock the head, chain the batch after it, insert it, move the head, count
    the batch's calls toward the shared calls-per-minute window, and queue the notices the rows
    raise for the notification sender (``governance/notify_events.py``)."""
    cur = await conn.execute(LOCK_HEAD_SQL)
    head = await cur.fetchone()
    if head is None:
        raise StorageUnavailable(
            "the audit chain's head row is missing from the database",
            hint="The schema was edited by hand; restore it from a backup.",
        )
    at: datetime = head[2]
    rows = chain_rows(AuditHead(int(head[0]), str(head[1])), batch, clock=lambda: at)
    async with conn.cursor() as cur:
        await cur.executemany(INSERT_SQL, rows)
        await cur.executemany(RECORDS_SQL, list(indexed_refs(rows)))
    await conn.execute(MOVE_HEAD_SQL, (rows[-1][0], rows[-1][-1]))
    if named := sorted({(r[_CHANGE], r[_TOOL]) for r in rows if _names_change(r)}):
        async with conn.cursor() as cur:
            await cur.executemany(ON_RECORD_SQL, named)
    await record_calls(conn, calls, time.time())
    if notices := audit_notices(rows):
        await enqueue(conn, notices, at)
    return rows


def _names_change(row: StoredRow) -> bool:
    return row[_KIND] == "tool_call" and row[_CHANGE] is not None


# What a batch of audit rows takes (``commit_rows``), taken without writing one: the head row
# (a row lock needs the UPDATE privilege, and waits no longer than ``lock_timeout`` behind a
# session holding the head) and the right to insert the rows (a zero-row INSERT is checked
# against the privileges and locks of a real one; reading no table, it needs no SELECT on an
# append-only log), what the same commit uses to count the call toward its principal's calls
# per minute (``record_calls``: an upsert and a prune of ``call_window``), and the right to
# mark a proposal's change as on record (``ON_RECORD_SQL``). FOR KEY SHARE
# is the weakest lock that conflicts with the writer's FOR UPDATE, so a probe never blocks
# another probe.
PROBE_SQL = (
    "SELECT 1 FROM audit_head WHERE id = 1 FOR KEY SHARE",
    f"INSERT INTO {TABLE} (seq) SELECT NULL::bigint WHERE false",
    "INSERT INTO audit_records (ref, seq) SELECT NULL::text, NULL::bigint WHERE false",
    "INSERT INTO call_window (principal) SELECT NULL::text WHERE false",
    "UPDATE call_window SET calls = 0 WHERE false",
    "DELETE FROM call_window WHERE false",
    "UPDATE changes SET data = data WHERE false",
)


async def check_appendable(conn: Conn) -> None:
    """Raise what ``commit_rows`` would raise were it run now, writing nothing: a unit whose
    result only counts once the call's audit row is written (a proposal's change) runs this
    inside its transaction, so a database that takes its writes but not the audit log's
    leaves nothing behind."""
    for sql in PROBE_SQL:
        await conn.execute(sql.encode())


def audit_unavailable(where: str, exc: BaseException) -> AuditUnavailable:
    problem = exc if isinstance(exc, StorageUnavailable) else unavailable(where, exc)
    return AuditUnavailable(
        f"The audit log could not be written, so the call was refused. Cause: {problem.message}",
        hint=problem.hint,
        details=problem.details,
    )


class PgAuditStore(GroupCommitLog):
    """The audit writer on PostgreSQL, on a pool of one connection of its own (so a busy pool
    never keeps a call's row waiting)."""

    def __init__(self, db: PgDb) -> None:
        super().__init__()
        self.db = db

    @classmethod
    async def open(cls, url: str, *, where: str, lock_timeout_ms: int) -> PgAuditStore:
        try:
            db = await PgDb.open(
                url, where=where, name="audit", max_size=1, lock_timeout_ms=lock_timeout_ms
            )
        except StorageUnavailable as exc:
            raise audit_unavailable(where, exc) from exc
        log = cls(db)
        log._start()
        return log

    async def _write_batch(
        self, values: Sequence[tuple[Any, ...]], calls: Sequence[str]
    ) -> list[StoredRow]:
        return await self.db.write(partial(commit_rows, batch=values, calls=calls))

    def _unavailable(self, exc: BaseException) -> AuditUnavailable:
        return audit_unavailable(self.db.where, exc)

    async def _close_backend(self) -> None:
        await self.db.close()

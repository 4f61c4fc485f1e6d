"""Time-boxed exceptions on SQLite (see ``governance/waivers.py``): one row per grant, its
signed statement kept whole; a revocation is a compare-and-set, so it happens once."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from mopsgate.governance.audit_chain import AuditEvent, event_values, format_ts
from mopsgate.governance.errors import AuditUnavailable
from mopsgate.governance.waiver_statement import SignedWaiver
from mopsgate.governance.waivers import LAPSE_TOOL, Waiver, lapse_window
from mopsgate.storage.errors import StorageUnavailable
from mopsgate.storage.exception_verbs import ExceptionUnits, ExceptionVerbs
from mopsgate.storage.sqlite.audit import commit_rows, unavailable
from mopsgate.storage.sqlite.codec import maybe_when, ts, when
from mopsgate.storage.sqlite.db import SqliteDb
from mopsgate.storage.sqlite.readonly import open_for_reading

# Whether an exception's lapse is in the log: only rows from about its expiry on are read.
LAPSE_RECORDED = (
    "SELECT 1 FROM audit_log WHERE ts >= ? AND kind = 'exception' "
    "AND tool = ? AND result_summary = ? LIMIT 1"
)
_COLUMNS = (
    "id, use_case, what, granted_at, expires_at, reviewer, ticket, reason, grant_proof, "
    "revoked_at, revoked_by, revoke_reason, revoke_proof"
)


def _waiver(row: tuple[object, ...]) -> Waiver:
    text = [None if v is None else str(v) for v in row]
    return Waiver(
        id=str(text[0]),
        use_case=str(text[1]),
        what=str(text[2]),
        granted_at=when(str(text[3])),
        expires_at=when(str(text[4])),
        reviewer=str(text[5]),
        ticket=str(text[6]),
        reason=str(text[7]),
        grant=SignedWaiver.model_validate_json(str(text[8])),
        revoked_at=maybe_when(text[9]),
        revoked_by=text[10],
        revoke_reason=text[11],
        revoke=None if text[12] is None else SignedWaiver.model_validate_json(text[12]),
    )


def _audit(conn: sqlite3.Connection, audit: AuditEvent | None) -> None:
    """The row of what the unit did, in its own transaction (fail closed: both or neither)."""
    if audit is not None:
        commit_rows(conn, [event_values(audit)])


def _grant(conn: sqlite3.Connection, waiver: Waiver, audit: AuditEvent | None = None) -> None:
    conn.execute(
        f"INSERT INTO exceptions ({_COLUMNS}) "  # noqa: S608
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, NULL)",
        (
            waiver.id,
            waiver.use_case,
            waiver.what,
            ts(waiver.granted_at),
            ts(waiver.expires_at),
            waiver.reviewer,
            waiver.ticket,
            waiver.reason,
            waiver.grant.model_dump_json(),
        ),
    )
    _audit(conn, audit)


def _all(conn: sqlite3.Connection) -> list[Waiver]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM exceptions ORDER BY granted_at, id").fetchall()  # noqa: S608
    return [_waiver(r) for r in rows]


def _get(conn: sqlite3.Connection, waiver_id: str) -> Waiver | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM exceptions WHERE id = ?",  # noqa: S608
        (waiver_id,),
    ).fetchone()
    return None if row is None else _waiver(row)


def _revoke(
    conn: sqlite3.Connection, signed: SignedWaiver, audit: AuditEvent | None = None
) -> Waiver | None:
    st = signed.statement
    done = conn.execute(
        "UPDATE exceptions SET revoked_at = ?, revoked_by = ?, revoke_reason = ?, "
        "revoke_proof = ? WHERE id = ? AND revoked_at IS NULL",
        (ts(st.time), st.reviewer, st.reason, signed.model_dump_json(), st.exception_id),
    )
    if done.rowcount != 1:
        return None
    _audit(conn, audit)
    return _get(conn, st.exception_id)


def _record_lapses(
    conn: sqlite3.Connection, now: datetime, event: Callable[[Waiver], AuditEvent]
) -> list[Waiver]:
    """Under the write lock, so of processes noticing at once exactly one writes each row."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM exceptions WHERE expires_at <= ? "  # noqa: S608
        "AND (revoked_at IS NULL OR revoked_at > expires_at) ORDER BY expires_at, id",
        (ts(now),),
    ).fetchall()

    def recorded(w: Waiver) -> bool:
        found = conn.execute(LAPSE_RECORDED, (format_ts(lapse_window(w)), LAPSE_TOOL, w.id))
        return found.fetchone() is not None

    lapsed = [w for w in map(_waiver, rows) if not recorded(w)]
    if lapsed:
        commit_rows(conn, [event_values(event(w)) for w in lapsed])
    return lapsed


class SqliteExceptions(ExceptionVerbs):
    """The :class:`~mopsgate.storage.api.Exceptions` for SQLite."""

    _units = ExceptionUnits(grant=_grant, revoke=_revoke, record_lapses=_record_lapses)

    def __init__(self, state: SqliteDb, read: SqliteDb) -> None:
        self._state = state
        self._read = read

    async def _write(self, unit: partial[Any]) -> Any:
        return await self._state.write(unit)

    def _audit_unavailable(self, exc: StorageUnavailable) -> AuditUnavailable:
        return unavailable(self._state.path, exc)

    async def get(self, waiver_id: str) -> Waiver | None:
        return await self._read.read(partial(_get, waiver_id=waiver_id))

    async def all(self) -> list[Waiver]:
        return await self._read.read(_all)


def _all_if_present(conn: sqlite3.Connection) -> list[Waiver]:
    sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'exceptions'"
    return _all(conn) if conn.execute(sql).fetchone() is not None else []


async def read_exceptions(path: str) -> list[Waiver]:
    """Every exception, through a read-only connection: for readers that must work beside a
    writer holding the lock and on exported evidence (none before schema 8)."""
    db, source = await open_for_reading(path, name="exceptions")
    try:
        return await db.read(_all_if_present)
    finally:
        await db.close()
        source.close()

"""Time-boxed exceptions on PostgreSQL (see ``governance/waivers.py``): one row per grant, its
signed statement kept whole; a revocation is a conditional update, so it happens once in any
number of replicas."""

from __future__ import annotations

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
from mopsgate.storage.postgres.audit import audit_unavailable, commit_rows
from mopsgate.storage.postgres.db import Conn, PgDb

LAPSE_RECORDED = (
    "SELECT 1 FROM audit_log WHERE ts >= %s AND kind = 'exception' "
    "AND tool = %s AND result_summary = %s LIMIT 1"
)

_COLUMNS = (
    "id, use_case, what, granted_at, expires_at, reviewer, ticket, reason, grant_proof, "
    "revoked_at, revoked_by, revoke_reason, revoke_proof"
)


def _waiver(row: tuple[Any, ...]) -> Waiver:
    return Waiver(
        id=row[0],
        use_case=row[1],
        what=row[2],
        granted_at=row[3],
        expires_at=row[4],
        reviewer=row[5],
        ticket=row[6],
        reason=row[7],
        grant=SignedWaiver.model_validate_json(row[8]),
        revoked_at=row[9],
        revoked_by=row[10],
        revoke_reason=row[11],
        revoke=None if row[12] is None else SignedWaiver.model_validate_json(row[12]),
    )


async def _audit(conn: Conn, audit: AuditEvent | None) -> None:
    """The row of what the unit did, in its own transaction (fail closed: both or neither)."""
    if audit is not None:
        await commit_rows(conn, [event_values(audit)], ())


async def _grant(conn: Conn, waiver: Waiver, audit: AuditEvent | None = None) -> None:
    await conn.execute(
        f"INSERT INTO exceptions ({_COLUMNS}) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, NULL, NULL, NULL, NULL)",
        (
            waiver.id,
            waiver.use_case,
            waiver.what,
            waiver.granted_at,
            waiver.expires_at,
            waiver.reviewer,
            waiver.ticket,
            waiver.reason,
            waiver.grant.model_dump_json(),
        ),
    )
    await _audit(conn, audit)


async def all_exceptions(conn: Conn) -> list[Waiver]:
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM exceptions ORDER BY granted_at, id")  # noqa: S608
    return [_waiver(r) for r in await cur.fetchall()]


async def _get(conn: Conn, waiver_id: str) -> Waiver | None:
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM exceptions WHERE id = %s",  # noqa: S608
        (waiver_id,),
    )
    row = await cur.fetchone()
    return None if row is None else _waiver(row)


async def _revoke(
    conn: Conn, signed: SignedWaiver, audit: AuditEvent | None = None
) -> Waiver | None:
    st = signed.statement
    cur = await conn.execute(
        "UPDATE exceptions SET revoked_at = %s, revoked_by = %s, revoke_reason = %s, "  # noqa: S608
        f"revoke_proof = %s WHERE id = %s AND revoked_at IS NULL RETURNING {_COLUMNS}",
        (st.time, st.reviewer, st.reason, signed.model_dump_json(), st.exception_id),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    await _audit(conn, audit)
    return _waiver(row)


async def _record_lapses(
    conn: Conn, now: datetime, event: Callable[[Waiver], AuditEvent]
) -> list[Waiver]:
    """The chain's head is locked first, so of replicas noticing at once exactly one writes
    each row (the others wait, then find it)."""
    await conn.execute("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM exceptions WHERE expires_at <= %s "  # noqa: S608
        "AND (revoked_at IS NULL OR revoked_at > expires_at) ORDER BY expires_at, id",
        (now,),
    )
    lapsed: list[Waiver] = []
    for w in map(_waiver, await cur.fetchall()):
        found = await conn.execute(LAPSE_RECORDED, (format_ts(lapse_window(w)), LAPSE_TOOL, w.id))
        if await found.fetchone() is None:
            lapsed.append(w)
    if lapsed:
        await commit_rows(conn, [event_values(event(w)) for w in lapsed], ())
    return lapsed


class PgExceptions(ExceptionVerbs):
    """The :class:`~mopsgate.storage.api.Exceptions` for PostgreSQL."""

    _units = ExceptionUnits(grant=_grant, revoke=_revoke, record_lapses=_record_lapses)

    def __init__(self, db: PgDb) -> None:
        self._db = db

    async def _write(self, unit: partial[Any]) -> Any:
        return await self._db.write(unit)

    def _audit_unavailable(self, exc: StorageUnavailable) -> AuditUnavailable:
        return audit_unavailable(self._db.where, exc)

    async def get(self, waiver_id: str) -> Waiver | None:
        return await self._db.read(partial(_get, waiver_id=waiver_id))

    async def all(self) -> list[Waiver]:
        return await self._db.read(all_exceptions)

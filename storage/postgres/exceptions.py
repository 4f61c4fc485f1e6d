"""Time-boxed exceptions on PostgreSQL (see ``governance/waivers.py``): one row per grant, its
signed statement kept whole; a revocation is a conditional update, so it happens once in any
number of replicas."""

from __future__ import annotations

from functools import partial
from typing import Any

from mopsgate.governance.waiver_statement import SignedWaiver
from mopsgate.governance.waivers import Waiver
from mopsgate.storage.postgres.db import Conn, PgDb

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


async def _grant(conn: Conn, waiver: Waiver) -> None:
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


async def _revoke(conn: Conn, signed: SignedWaiver) -> Waiver | None:
    st = signed.statement
    cur = await conn.execute(
        "UPDATE exceptions SET revoked_at = %s, revoked_by = %s, revoke_reason = %s, "  # noqa: S608
        f"revoke_proof = %s WHERE id = %s AND revoked_at IS NULL RETURNING {_COLUMNS}",
        (st.time, st.reviewer, st.reason, signed.model_dump_json(), st.exception_id),
    )
    row = await cur.fetchone()
    return None if row is None else _waiver(row)


class PgExceptions:
    """The :class:`~mopsgate.storage.api.Exceptions` for PostgreSQL."""

    def __init__(self, db: PgDb) -> None:
        self._db = db

    async def grant(self, waiver: Waiver) -> None:
        await self._db.write(partial(_grant, waiver=waiver))

    async def revoke(self, signed: SignedWaiver) -> Waiver | None:
        return await self._db.write(partial(_revoke, signed=signed))

    async def get(self, waiver_id: str) -> Waiver | None:
        return await self._db.read(partial(_get, waiver_id=waiver_id))

    async def all(self) -> list[Waiver]:
        return await self._db.read(all_exceptions)

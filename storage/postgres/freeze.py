"""The kill switch on PostgreSQL: one permanent row. Every apply's claim locks it ``FOR SHARE``
inside its own transaction (``changes._claim``), and ``freeze`` updates it, which waits for
those claims to commit. So once ``mopsgate freeze`` returns, every claim that had not yet read
the row sees it frozen, in every replica: no apply starts after it. Never cached."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from mopsgate.governance.freeze import FreezeState
from mopsgate.storage.postgres.db import Conn, PgDb

_READ = "SELECT frozen, reason, frozen_by, frozen_at FROM freeze_state WHERE id = 1"


async def read_state(conn: Conn, *, lock: str = "") -> FreezeState | None:
    """The freeze in force; ``lock`` is ``FOR SHARE`` (a claim) or ``FOR UPDATE``."""
    cur = await conn.execute(f"{_READ} {lock}".encode())
    row = await cur.fetchone()
    if row is None or not row[0]:
        return None
    return FreezeState(reason=str(row[1]), by=str(row[2]), at=row[3])


async def _freeze(conn: Conn, reason: str, by: str, at: datetime) -> FreezeState:
    await conn.execute(
        "UPDATE freeze_state SET frozen = TRUE, reason = %s, frozen_by = %s, frozen_at = %s "
        "WHERE id = 1",
        (reason, by, at),
    )
    state = await read_state(conn)
    assert state is not None
    return state


async def _unfreeze(conn: Conn) -> FreezeState | None:
    previous = await read_state(conn, lock="FOR UPDATE")
    await conn.execute("UPDATE freeze_state SET frozen = FALSE WHERE id = 1")
    return previous


class PgFreezeSwitch:
    """The :class:`~mopsgate.governance.ports.FreezeSwitch` for PostgreSQL."""

    def __init__(self, db: PgDb) -> None:
        self._db = db

    async def state(self) -> FreezeState | None:
        return await self._db.read_one(read_state)

    async def freeze(self, reason: str, by: str, *, at: datetime) -> FreezeState:
        """Freeze (or re-freeze with a new reason); waits for claims in flight."""
        return await self._db.write(partial(_freeze, reason=reason, by=by, at=at))

    async def unfreeze(self, by: str) -> FreezeState | None:
        """Lift the freeze; the freeze that was lifted (None if applies were not frozen).
        ``by`` is for the caller's audit row; the switch keeps no history by design."""
        del by
        return await self._db.write(_unfreeze)

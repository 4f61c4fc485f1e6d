"""Which process is applying a change right now, across replicas: a session-level advisory lock
per change, held on a connection of its own from the claim until the apply ends.

The claim (``approved → applying``) commits before the first vendor write, so the status alone
cannot tell a change another replica is writing right now from one a killed replica left
behind. The lock can: PostgreSQL releases a session's advisory locks when its connection ends,
which is exactly when the process holding it dies (or the database restarts). So start-up
recovery settles only changes whose lock it can take (``PgChangeStore.interrupted_ids``); a
change a live replica is still applying is left alone. The lock is taken before the claim's
transaction, so between the claim committing and the vendor writes there is no moment in which
a recovering replica could take the change.
"""

from __future__ import annotations

import contextlib

import psycopg

from mopsgate.storage.postgres.db import Conn, PgDb, unavailable

# One 64-bit key per change, in a namespace of our own.
_KEY = "hashtextextended('mopsgate.apply:' || %s, 0)"
TRY_LOCK_SQL = f"SELECT pg_try_advisory_lock({_KEY})"
UNLOCK_SQL = f"SELECT pg_advisory_unlock({_KEY})"


class ApplyLocks:
    """The apply locks this process holds, each on a connection of its own (outside the pool,
    which an apply lasting minutes must not hold on to)."""

    def __init__(self, db: PgDb) -> None:
        self._db = db
        self._held: dict[str, Conn] = {}

    async def take(self, change_id: str) -> bool:
        """Take the change's lock without waiting; False when another process (or another
        apply in this one) holds it."""
        if change_id in self._held:
            return False
        conn = await self._db.dedicated("apply-lock")
        try:
            row = await (await conn.execute(TRY_LOCK_SQL, (change_id,))).fetchone()
        except psycopg.Error as exc:
            await conn.close()
            raise unavailable(self._db.where, exc) from exc
        if row is None or not row[0]:
            await conn.close()
            return False
        self._held[change_id] = conn
        return True

    async def release(self, change_id: str) -> None:
        """Let go of the change, unlocking before closing: a closed connection's server process
        lets go of its locks only once it has ended, a moment later, and a claim made in that
        moment (a retry after a freeze was lifted, another replica) was refused as "being
        applied right now". A dead connection has already let go of it."""
        conn = self._held.pop(change_id, None)
        if conn is None:
            return
        try:
            with contextlib.suppress(psycopg.Error):
                await conn.execute(UNLOCK_SQL, (change_id,))
        finally:
            with contextlib.suppress(psycopg.Error):
                await conn.close()

    async def release_all(self) -> None:
        for change_id in list(self._held):
            await self.release(change_id)

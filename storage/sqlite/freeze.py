"""The kill switch on SQLite: one permanent row every apply's claim reads inside its own
transaction (``changes._claim``), so there is no window between "not frozen" and "applying".
Committed with ``synchronous=FULL`` before ``freeze`` returns: once the command says "frozen",
no apply can start after it, in any process."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from functools import partial

from mopsgate.governance.freeze import FreezeState
from mopsgate.storage.sqlite.codec import ts, when
from mopsgate.storage.sqlite.db import SqliteDb

_READ = "SELECT frozen, reason, frozen_by, frozen_at FROM freeze_state WHERE id = 1"


def read_state(conn: sqlite3.Connection) -> FreezeState | None:
    row = conn.execute(_READ).fetchone()
    if row is None or not row[0]:
        return None
    return FreezeState(reason=str(row[1]), by=str(row[2]), at=when(row[3]))


def _freeze(conn: sqlite3.Connection, reason: str, by: str, at: datetime) -> FreezeState:
    conn.execute(
        "UPDATE freeze_state SET frozen = 1, reason = ?, frozen_by = ?, frozen_at = ? WHERE id = 1",
        (reason, by, ts(at)),
    )
    state = read_state(conn)
    assert state is not None
    return state


def _unfreeze(conn: sqlite3.Connection) -> FreezeState | None:
    previous = read_state(conn)
    conn.execute("UPDATE freeze_state SET frozen = 0 WHERE id = 1")
    return previous


class SqliteFreezeSwitch:
    """The :class:`~mopsgate.governance.ports.FreezeSwitch` for SQLite. Never cached."""

    def __init__(self, state: SqliteDb, read: SqliteDb) -> None:
        self._state = state
        self._read = read

    async def state(self) -> FreezeState | None:
        return await self._read.read(read_state)

    async def freeze(self, reason: str, by: str, *, at: datetime) -> FreezeState:
        """Freeze (or re-freeze with a new reason)."""
        return await self._state.write(partial(_freeze, reason=reason, by=by, at=at))

    async def unfreeze(self, by: str) -> FreezeState | None:
        """Lift the freeze; the freeze that was lifted (None if applies were not frozen).
        ``by`` is for the caller's audit row; the switch keeps no history by design."""
        del by
        return await self._state.write(_unfreeze)

"""The kill switch: one row in the shared database that every apply reads before it writes.

It lives in SQLite rather than in process memory so that a freeze typed into one terminal stops
applies in every running server at once, with no restart and no signal to deliver. Applies check it
inside the same transaction that claims a change (see ``change_sql.claim``), so there is no window
between "not frozen" and "now applying". Who froze and why goes to the audit log via the CLI.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from mopsgate.governance.errors import Frozen

BUSY_TIMEOUT_MS = 5000
FREEZE_SCHEMA = """
CREATE TABLE IF NOT EXISTS freeze_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    reason TEXT NOT NULL,
    frozen_by TEXT NOT NULL,
    frozen_at TEXT NOT NULL
)"""
READ_SQL = "SELECT reason, frozen_by, frozen_at FROM freeze_state WHERE id = 1"
SET_SQL = (
    "INSERT INTO freeze_state (id, reason, frozen_by, frozen_at) VALUES (1, ?, ?, ?) "
    "ON CONFLICT(id) DO UPDATE SET reason = excluded.reason, frozen_by = excluded.frozen_by, "
    "frozen_at = excluded.frozen_at"
)
CLEAR_SQL = "DELETE FROM freeze_state WHERE id = 1"


@dataclass(frozen=True)
class FreezeState:
    reason: str
    by: str
    at: datetime


def state_from_row(row: Sequence[Any] | None) -> FreezeState | None:
    if row is None:
        return None
    return FreezeState(reason=str(row[0]), by=str(row[1]), at=datetime.fromisoformat(row[2]))


def frozen_error(state: FreezeState) -> Frozen:
    return Frozen(
        f"applies are frozen (since {state.at.isoformat(timespec='seconds')} by {state.by}: "
        f"{state.reason or 'no reason given'})",
        hint="nothing will be written until an operator runs `mopsgate unfreeze`; proposals and "
        "reviews still work, so the change can be applied once applies resume",
        details={"reason_code": "frozen", "frozen_by": state.by, "reason": state.reason},
    )


def _connect(db_path: str | Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(db_path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(FREEZE_SCHEMA)
    return conn


def freeze(
    db_path: str | Path, reason: str, by: str, *, now: datetime | None = None
) -> FreezeState:
    """Freeze (or re-freeze with a new reason). Committed with synchronous=FULL before returning,
    so once the command says "frozen" no apply can start after it."""
    at = (now or datetime.now(UTC)).astimezone(UTC)
    conn = _connect(db_path)
    try:
        conn.execute(SET_SQL, (reason, by, at.isoformat(timespec="microseconds")))
    finally:
        conn.close()
    return FreezeState(reason=reason, by=by, at=at)


def unfreeze(db_path: str | Path, by: str) -> FreezeState | None:
    """Lift the freeze; returns the freeze that was lifted (None if applies were not frozen).
    ``by`` is for the caller's audit row; the state table keeps no history by design."""
    del by
    conn = _connect(db_path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        previous = state_from_row(conn.execute(READ_SQL).fetchone())
        conn.execute(CLEAR_SQL)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return previous


def frozen_state(db_path: str | Path) -> FreezeState | None:
    conn = _connect(db_path)
    try:
        return state_from_row(conn.execute(READ_SQL).fetchone())
    finally:
        conn.close()


async def frozen_state_async(conn: aiosqlite.Connection) -> FreezeState | None:
    """Read through the server's open connection: a fresh read each time, never cached, so a
    freeze from another process is seen by the very next apply."""
    cursor = await conn.execute(READ_SQL)
    return state_from_row(await cursor.fetchone())


async def ensure_not_frozen(conn: aiosqlite.Connection) -> None:
    state = await frozen_state_async(conn)
    if state is not None:
        raise frozen_error(state)

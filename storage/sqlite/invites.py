"""Reviewer enrolment invites on SQLite (see ``governance/reviewer_invites.py``): stored by the
token's hash; using one is a compare-and-set, so of two enrolments racing one wins."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from functools import partial

from mopsgate.governance.reviewer_invites import Invite
from mopsgate.storage.sqlite.codec import maybe_when, ts, when
from mopsgate.storage.sqlite.db import SqliteDb

_COLUMNS = "token_hash, reviewer, created_by, created_at, expires_at, declare, used_at, credential"


def _invite(row: tuple[object, ...]) -> Invite:
    return Invite(
        token_hash=str(row[0]),
        reviewer=str(row[1]),
        created_by=str(row[2]),
        created_at=when(str(row[3])),
        expires_at=when(str(row[4])),
        declare=bool(row[5]),
        used_at=maybe_when(None if row[6] is None else str(row[6])),
        credential=None if row[7] is None else str(row[7]),
    )


def _create(conn: sqlite3.Connection, invite: Invite) -> None:
    conn.execute(
        f"INSERT INTO reviewer_invites ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL)",  # noqa: S608
        (
            invite.token_hash,
            invite.reviewer,
            invite.created_by,
            ts(invite.created_at),
            ts(invite.expires_at),
            int(invite.declare),
        ),
    )


def _find(conn: sqlite3.Connection, token_hash: str) -> Invite | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM reviewer_invites WHERE token_hash = ?",  # noqa: S608
        (token_hash,),
    ).fetchone()
    return None if row is None else _invite(row)


def _use(conn: sqlite3.Connection, token_hash: str, at: datetime, credential: str) -> Invite | None:
    done = conn.execute(
        "UPDATE reviewer_invites SET used_at = ?, credential = ? "
        "WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
        (ts(at), credential, token_hash, ts(at)),
    )
    return _find(conn, token_hash) if done.rowcount == 1 else None


class SqliteReviewerInvites:
    """The :class:`~mopsgate.storage.api.ReviewerInvites` for SQLite."""

    def __init__(self, state: SqliteDb, read: SqliteDb) -> None:
        self._state = state
        self._read = read

    async def create(self, invite: Invite) -> None:
        await self._state.write(partial(_create, invite=invite))

    async def find(self, token_hash: str) -> Invite | None:
        return await self._read.read(partial(_find, token_hash=token_hash))

    async def use(self, token_hash: str, *, at: datetime, credential: str) -> Invite | None:
        return await self._state.write(
            partial(_use, token_hash=token_hash, at=at, credential=credential)
        )

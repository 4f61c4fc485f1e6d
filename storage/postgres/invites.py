"""Reviewer enrolment invites on PostgreSQL (see ``governance/reviewer_invites.py``): stored by
the token's hash; using one is a conditional update, so of two enrolments racing (in any
replicas) one wins."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from mopsgate.governance.reviewer_invites import Invite
from mopsgate.storage.postgres.db import Conn, PgDb

_COLUMNS = "token_hash, reviewer, created_by, created_at, expires_at, declare, used_at, credential"


def _invite(row: tuple[Any, ...]) -> Invite:
    return Invite(*row)  # the columns are the dataclass's fields, in order


async def _create(conn: Conn, invite: Invite) -> None:
    await conn.execute(
        f"INSERT INTO reviewer_invites ({_COLUMNS}) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, %s, %s, NULL, NULL)",
        (
            invite.token_hash,
            invite.reviewer,
            invite.created_by,
            invite.created_at,
            invite.expires_at,
            invite.declare,
        ),
    )


async def _find(conn: Conn, token_hash: str) -> Invite | None:
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM reviewer_invites WHERE token_hash = %s",  # noqa: S608
        (token_hash,),
    )
    row = await cur.fetchone()
    return None if row is None else _invite(row)


async def _use(conn: Conn, token_hash: str, at: datetime, credential: str) -> Invite | None:
    cur = await conn.execute(
        f"UPDATE reviewer_invites SET used_at = %s, credential = %s "  # noqa: S608
        f"WHERE token_hash = %s AND used_at IS NULL AND expires_at > %s RETURNING {_COLUMNS}",
        (at, credential, token_hash, at),
    )
    row = await cur.fetchone()
    return None if row is None else _invite(row)


class PgReviewerInvites:
    """The :class:`~mopsgate.storage.api.ReviewerInvites` for PostgreSQL."""

    def __init__(self, db: PgDb) -> None:
        self._db = db

    async def create(self, invite: Invite) -> None:
        await self._db.write(partial(_create, invite=invite))

    async def find(self, token_hash: str) -> Invite | None:
        return await self._db.read(partial(_find, token_hash=token_hash))

    async def use(self, token_hash: str, *, at: datetime, credential: str) -> Invite | None:
        return await self._db.write(
            partial(_use, token_hash=token_hash, at=at, credential=credential)
        )

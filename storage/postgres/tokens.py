"""Bearer tokens on PostgreSQL, and the epoch that makes a revocation take effect in every
replica at once.

Every creation and revocation bumps ``token_epoch`` in its own transaction. :meth:`generation`
reads it (a primary-key read) on every request; a replica whose cached lookups were made under
another generation empties its cache first (``server/bearer.py``). The promise: once
``mopsgate token revoke`` has printed its result, the epoch has moved, so every replica refuses
the token on its next request. (A LISTEN/NOTIFY message would be asynchronous: at best an
optimisation, never the guarantee.)
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from mopsgate.governance.bearer_tokens import IssuedToken, TokenRecord, new_token, token_hash
from mopsgate.storage.postgres.db import Conn, PgDb

_SELECT = (
    "SELECT principal, label, created_at, expires_at, revoked FROM bearer_tokens "
    "WHERE token_hash = %s"
)
_BUMP = "UPDATE token_epoch SET n = n + 1 WHERE id = 1"


async def _insert(conn: Conn, token_hash: str, record: TokenRecord) -> None:
    await conn.execute(
        "INSERT INTO bearer_tokens (token_hash, principal, label, created_at, expires_at) "
        "VALUES (%s, %s, %s, %s, %s)",
        (token_hash, record.principal, record.label, record.created_at, record.expires_at),
    )
    await conn.execute(_BUMP)


async def _revoke(conn: Conn, principal: str) -> int:
    cur = await conn.execute(
        "UPDATE bearer_tokens SET revoked = TRUE WHERE principal = %s AND NOT revoked",
        (principal,),
    )
    await conn.execute(_BUMP)
    return cur.rowcount


async def _lookup(conn: Conn, token_hash: str) -> TokenRecord | None:
    row = await (await conn.execute(_SELECT, (token_hash,))).fetchone()
    if row is None:
        return None
    return TokenRecord(row[0], row[1], row[2], row[3], bool(row[4]))


async def _epoch(conn: Conn) -> str | None:
    row = await (await conn.execute("SELECT n FROM token_epoch WHERE id = 1")).fetchone()
    return None if row is None else str(row[0])


class PgTokenStore:
    """The :class:`~mopsgate.storage.api.TokenStore` for PostgreSQL."""

    def __init__(self, db: PgDb) -> None:
        self._db = db

    async def create(
        self, principal: str, *, label: str, expires_at: datetime | None, now: datetime
    ) -> IssuedToken:
        token = new_token()
        record = TokenRecord(principal, label, now, expires_at)
        await self._db.write(partial(_insert, token_hash=token_hash(token), record=record))
        return IssuedToken(token, record)

    async def lookup(self, token_hash: str) -> TokenRecord | None:
        return await self._db.read_one(partial(_lookup, token_hash=token_hash))

    async def revoke_principal(self, principal: str) -> int:
        return await self._db.write(partial(_revoke, principal=principal))

    async def generation(self) -> str | None:
        return await self._db.read_one(_epoch)

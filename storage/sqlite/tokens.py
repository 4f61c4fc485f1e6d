"""Bearer tokens on SQLite, and the epoch that makes revocation take effect everywhere at once.

Every creation and revocation bumps ``token_epoch`` in its own transaction and then replaces a
small sentinel file beside the database with the new epoch and a nonce. :meth:`generation` reads
that file (a few microseconds, no database) on every request; a process whose cached lookups were
made under another generation empties its cache first (``server/bearer.py``). The promise: once
``mopsgate token revoke`` has printed its result, the sentinel has changed, so every running
process refuses the token on its next request. A missing sentinel means "unknown": callers then
look every token up. It is rewritten from the table whenever storage opens.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
from datetime import datetime
from functools import partial
from pathlib import Path

from mopsgate.governance.bearer_tokens import IssuedToken, TokenRecord, new_token, token_hash
from mopsgate.storage.sqlite.codec import maybe_ts, maybe_when, ts, when
from mopsgate.storage.sqlite.db import SqliteDb, unavailable

_SELECT = (
    "SELECT principal, label, created_at, expires_at, revoked FROM bearer_tokens "
    "WHERE token_hash = ?"
)
_BUMP = "UPDATE token_epoch SET n = n + 1 WHERE id = 1"
_SENTINEL_MAX = 256  # "<epoch> <16 hex digits>\n" is far shorter


def _insert(conn: sqlite3.Connection, token_hash: str, record: TokenRecord) -> int:
    conn.execute(
        "INSERT INTO bearer_tokens (token_hash, principal, label, created_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (
            token_hash,
            record.principal,
            record.label,
            ts(record.created_at),
            maybe_ts(record.expires_at),
        ),
    )
    conn.execute(_BUMP)
    return _epoch(conn)


def _revoke(conn: sqlite3.Connection, principal: str) -> tuple[int, int]:
    cur = conn.execute(
        "UPDATE bearer_tokens SET revoked = 1 WHERE principal = ? AND revoked = 0", (principal,)
    )
    conn.execute(_BUMP)
    return cur.rowcount, _epoch(conn)


def _lookup(conn: sqlite3.Connection, token_hash: str) -> TokenRecord | None:
    row = conn.execute(_SELECT, (token_hash,)).fetchone()
    if row is None:
        return None
    return TokenRecord(row[0], row[1], when(row[2]), maybe_when(row[3]), bool(row[4]))


def _epoch(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT n FROM token_epoch WHERE id = 1").fetchone()[0])


class SqliteTokenStore:
    """The :class:`~mopsgate.storage.api.TokenStore` for SQLite: writes on the ``state``
    connection, lookups on the ``read`` one."""

    def __init__(self, state: SqliteDb, read: SqliteDb, db_path: str | Path) -> None:
        self._state = state
        self._read = read
        self.sentinel = Path(f"{db_path}-token-epoch")
        self._sentinel_path = str(self.sentinel)

    async def create(
        self, principal: str, *, label: str, expires_at: datetime | None, now: datetime
    ) -> IssuedToken:
        token = new_token()
        record = TokenRecord(principal, label, now, expires_at)
        epoch = await self._state.write(
            partial(_insert, token_hash=token_hash(token), record=record)
        )
        await self._publish(epoch)
        return IssuedToken(token, record)

    async def lookup(self, token_hash: str) -> TokenRecord | None:
        return await self._read.read(partial(_lookup, token_hash=token_hash))

    async def revoke_principal(self, principal: str) -> int:
        count, epoch = await self._state.write(partial(_revoke, principal=principal))
        await self._publish(epoch)
        return count

    async def generation(self) -> str | None:
        """Asked on every HTTP request, so read with three system calls and no file object
        (a third of ``Path.read_text``'s cost); the sentinel is one short line."""
        try:
            fd = os.open(self._sentinel_path, os.O_RDONLY)
            try:
                return os.read(fd, _SENTINEL_MAX).decode("ascii")
            finally:
                os.close(fd)
        except (OSError, UnicodeDecodeError):
            return None

    async def publish_current(self) -> None:
        """Rewrite the sentinel from the table (at open: it may be missing or behind)."""
        await self._publish(await self._state.read(_epoch))

    async def _publish(self, epoch: int) -> None:
        try:
            await self._state.call(lambda _conn: _replace(self.sentinel, epoch))
        except OSError as exc:  # the row is committed; say plainly that others may not know
            raise unavailable(self.sentinel, exc) from exc


def _replace(sentinel: Path, epoch: int) -> None:
    """A new file every time (written beside, then renamed over): readers see the old content
    or the new, never a torn one; the nonce makes every write distinct."""
    tmp = sentinel.with_name(f"{sentinel.name}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_text(f"{epoch} {secrets.token_hex(8)}\n", encoding="ascii")
        os.replace(tmp, sentinel)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()

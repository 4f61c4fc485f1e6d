"""The one way mopsgate uses PostgreSQL: a *unit* of work on a pooled connection, in one
transaction.

A unit is an async function of an ``AsyncConnection`` that does a whole piece of work (a claim,
a batch of audit rows, a point read), like a SQLite unit (``storage/sqlite/db.py``).
:meth:`PgDb.write` runs it in ``BEGIN … COMMIT`` at READ COMMITTED: a unit that compares and
sets first locks the rows it compares (``FOR UPDATE``), so a racing unit in another replica waits
and then sees the committed result. :meth:`PgDb.read` runs it in a REPEATABLE READ, READ ONLY
transaction: every statement sees one snapshot, and nothing can be written by mistake.

Failing closed, recovering by itself: every driver or pool error becomes one
:class:`StorageUnavailable` naming the server (never the password) and what to do. A unit waits
for a connection at most as long as for a lock (the busy timeout), then fails. After the server
restarted, the pool's idle connections are dead: the first unit to meet one finds out before
anything was done (at its BEGIN, or in its single read), has the pool check every idle
connection, and runs once more on a fresh one, so calls recover by themselves when the
database returns, without a health-check round trip on every checkout.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from psycopg import AsyncConnection, errors
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from mopsgate.storage.errors import StorageUnavailable

T = TypeVar("T")
Conn = AsyncConnection[tuple[Any, ...]]
Unit = Callable[[Conn], Awaitable[T]]

BEGIN_WRITE = "BEGIN"
BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
POOL_SIZE = 10
CONNECT_TIMEOUT_S = 5.0
LOCK_TIMEOUT_MS = 5000
RECONNECT_S = 2.0


def unavailable(where: str, exc: BaseException) -> StorageUnavailable:
    """What went wrong with the database at ``where``, said so an operator can act on it."""
    cause = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"
    details = {"where": where, "cause": cause}
    message, hint = _diagnose(where, exc)
    return StorageUnavailable(message, hint=hint, details=details)


def _diagnose(where: str, exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, errors.LockNotAvailable | errors.QueryCanceled):
        return (
            f"the PostgreSQL database at {where} is locked: another session held a lock for "
            "longer than mopsgate waits.",
            "Nothing was changed. Retry; if it persists, look for a long transaction holding "
            "locks (pg_stat_activity).",
        )
    if isinstance(exc, errors.ReadOnlySqlTransaction):
        return (
            f"the PostgreSQL server at {where} accepts no writes (a standby, or read-only).",
            "Point MOPSGATE_DATABASE_URL at the primary server.",
        )
    if isinstance(exc, errors.DiskFull | errors.OutOfMemory | errors.InsufficientResources):
        return (
            f"the PostgreSQL server at {where} is out of resources ({type(exc).__name__}).",
            "Free space or memory on the database server, then retry.",
        )
    if isinstance(exc, errors.InsufficientPrivilege):
        return (
            f"the database user may not use mopsgate's tables at {where} ({exc}).",
            "Grant the user mopsgate connects as rights on its tables, or connect as their owner.",
        )
    if isinstance(exc, errors.UndefinedTable | errors.UndefinedColumn):
        return (
            f"the PostgreSQL database at {where} lacks part of mopsgate's schema ({exc}).",
            "Run `mopsgate db status` and `mopsgate db upgrade` with the same database URL.",
        )
    if isinstance(exc, PoolTimeout | psycopg.OperationalError | psycopg.InterfaceError):
        return (
            f"the PostgreSQL database at {where} cannot be reached "
            f"({type(exc).__name__}: {_first_line(exc)}).",
            "Check that the server is running and reachable from this host, and the URL, "
            "user and password; mopsgate reconnects by itself once it is back.",
        )
    return (
        f"the PostgreSQL database at {where} could not be used "
        f"({type(exc).__name__}: {_first_line(exc)}).",
        "Check the database server's log, then retry.",
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no detail"


async def _configure(conn: Conn, lock_timeout_ms: int) -> None:
    """Once per new connection: timestamps in UTC, commits durable before they return (the
    audit log's promise), and waits for a lock bounded like SQLite's busy timeout."""
    await conn.execute("SET TIME ZONE 'UTC'")
    await conn.execute("SET synchronous_commit = on")
    await conn.execute(f"SET lock_timeout = {int(lock_timeout_ms)}")


class PgDb:
    """A pool of connections to one database. Use :meth:`open`, then :meth:`write`,
    :meth:`read` or :meth:`session`, then :meth:`close`."""

    def __init__(self, pool: AsyncConnectionPool[Conn], where: str, url: str) -> None:
        self.pool = pool
        self.where = where
        self._url = url

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        where: str,
        name: str,
        min_size: int = 1,
        max_size: int = POOL_SIZE,
        lock_timeout_ms: int = LOCK_TIMEOUT_MS,
        timeout: float = CONNECT_TIMEOUT_S,
    ) -> PgDb:
        """Connect (``min_size`` connections, waiting at most ``timeout`` seconds); a server
        that cannot be reached is refused here, with its cause."""

        async def configure(conn: Conn) -> None:
            await _configure(conn, lock_timeout_ms)

        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max(min_size, max_size),
            kwargs={
                "autocommit": True,
                "connect_timeout": max(1, round(timeout)),
                "application_name": f"mopsgate-{name}",
            },
            configure=configure,
            name=f"mopsgate-{name}",
            # A unit waits for a connection as long as for a lock (the busy timeout), then
            # fails closed: while the server is down, calls are refused, not queued.
            timeout=max(0.1, lock_timeout_ms / 1000),
            # A background reconnection gives up soon; the next unit that needs a connection
            # then starts a fresh attempt at once, instead of waiting out a backoff that grew
            # while the server was down.
            reconnect_timeout=RECONNECT_S,
            open=False,
        )
        try:
            await pool.open(wait=True, timeout=timeout)
        except (psycopg.Error, PoolTimeout) as exc:
            await pool.close()
            raise unavailable(where, exc) from exc
        return cls(pool, where, url)

    async def write(self, unit: Unit[T]) -> T:
        """Run ``unit`` in a READ COMMITTED transaction; it locks what it compares."""
        return await self._run(BEGIN_WRITE, unit)

    async def read(self, unit: Unit[T]) -> T:
        """Run ``unit`` in one REPEATABLE READ, READ ONLY snapshot."""
        return await self._run(BEGIN_READ, unit)

    async def read_one(self, unit: Unit[T]) -> T:
        """Run ``unit``, a single SELECT, by itself: one statement is its own snapshot, so the
        per-request reads (token generation, a token, the call window, the freeze) cost one
        round trip instead of three."""
        return await self._run(None, unit)

    async def dedicated(self, name: str) -> Conn:
        """A connection of its own, outside the pool, in autocommit: what a session-level
        advisory lock lives on. An apply holds its lock for as long as it lasts, and must not
        hold one of the pool's connections meanwhile (ten applies would starve every call)."""
        try:
            return await AsyncConnection.connect(
                self._url,
                autocommit=True,
                connect_timeout=round(CONNECT_TIMEOUT_S),
                application_name=f"mopsgate-{name}",
            )
        except psycopg.Error as exc:
            raise unavailable(self.where, exc) from exc

    async def close(self) -> None:
        await self.pool.close()

    async def _run(self, begin: str | None, unit: Unit[T]) -> T:
        for attempt in (1, 2):
            try:
                async with self.pool.connection() as conn:
                    try:
                        if begin is None:
                            return await unit(conn)
                        await conn.execute(begin)
                    except psycopg.OperationalError:
                        if attempt == 1 and conn.broken:
                            # Nothing was done yet (a transaction's BEGIN, or a single read):
                            # the idle connections died with a server restart. Drop them all
                            # and try once more on a fresh one.
                            await self.pool.check()
                            continue
                        raise
                    return await in_transaction(conn, unit)
            except psycopg.Error as exc:
                raise unavailable(self.where, exc) from exc
        raise AssertionError("unreachable: the second attempt returns or raises")


async def in_transaction(conn: Conn, unit: Unit[T]) -> T:
    """``unit`` then COMMIT, in the transaction already begun; rolled back if it raises (the
    original error is the one reported)."""
    try:
        result = await unit(conn)
    except BaseException:
        with contextlib.suppress(psycopg.Error):
            await conn.execute("ROLLBACK")
        raise
    await conn.execute("COMMIT")
    return result

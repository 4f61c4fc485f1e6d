"""Where mopsgate keeps its state: one package, one way per backend, behind typed ports.

``open_storage`` picks the backend from the database URL (``sqlite:///<path>``, the embedded
default, or ``postgresql://…`` for several replicas sharing one database, ``storage/postgres``)
and returns a :class:`~mopsgate.storage.api.Storage`; callers use its ports and never see SQL.
The CLI uses the very same classes through ``asyncio.run``. The PostgreSQL driver is imported
only when a PostgreSQL URL is used.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from mopsgate.governance.audit_chain import AuditEvent, AuditRecord
from mopsgate.governance.waivers import Waiver
from mopsgate.storage.api import AuditReader, Storage
from mopsgate.storage.errors import StorageUnavailable
from mopsgate.storage.migrate import Migration, SchemaStatus, require_head
from mopsgate.storage.sqlite.audit import SqliteAuditStore
from mopsgate.storage.sqlite.audit_read import SqliteAuditReader
from mopsgate.storage.sqlite.backend import SqliteStorage
from mopsgate.storage.sqlite.db import (
    BUSY_TIMEOUT_MS,
    SqliteDb,
    _connect,
    _in_transaction,
    unavailable,
)
from mopsgate.storage.sqlite.exceptions import read_exceptions
from mopsgate.storage.sqlite.readonly import ReadSource, open_for_reading, private_copy
from mopsgate.storage.sqlite.schema import prepare, upgrade_one, version_of

if TYPE_CHECKING:
    from mopsgate.governance.decision_audit import StoredDecision

SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class StorageConfig:
    """Which database, and how long a write may wait for a lock another process holds."""

    url: str
    busy_timeout_ms: int = BUSY_TIMEOUT_MS

    @classmethod
    def sqlite(cls, path: str | Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> StorageConfig:
        return cls(f"{SQLITE_PREFIX}{path}", busy_timeout_ms)

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith(POSTGRES_SCHEMES)

    @property
    def sqlite_path(self) -> Path:
        if not self.url.startswith(SQLITE_PREFIX):
            raise StorageUnavailable(
                f"unsupported database URL {self.where!r}",
                hint="Use sqlite:///<path> or postgresql://user@host:port/dbname.",
            )
        return Path(self.url.removeprefix(SQLITE_PREFIX))

    @property
    def where(self) -> str:
        """The location for messages: never a user, a password, nor the query string (which
        may hold one)."""
        if self.url.startswith(SQLITE_PREFIX):
            return self.url.removeprefix(SQLITE_PREFIX)
        parts = urlsplit(self.url)
        host = parts.netloc.rpartition("@")[2]
        return f"{parts.scheme}://{host}{parts.path}"


async def open_storage(cfg: StorageConfig) -> Storage:
    """Open every port of the configured backend; refuses a schema that is not HEAD."""
    if cfg.is_postgres:
        from mopsgate.storage.postgres.backend import PgStorage

        return await PgStorage.open(cfg.url, where=cfg.where, lock_timeout_ms=cfg.busy_timeout_ms)
    return await SqliteStorage.open(cfg.sqlite_path, busy_timeout_ms=cfg.busy_timeout_ms)


@contextlib.asynccontextmanager
async def storage_to_read(cfg: StorageConfig) -> AsyncIterator[Storage]:
    """The storage of a command that only reads (the risk report, the review queue, the
    manifest history). A SQLite state directory this user may not write (evidence exported
    read-only, a read-only mount) is read from a private copy of the database and its
    write-ahead log: opening it in place writes beside it (its ``-shm`` index, the token
    sentinel), and nothing may ever be written beside evidence. The copy goes afterwards."""
    source: ReadSource | None = None
    if cfg.is_postgres or _writable(cfg.sqlite_path):
        storage = await open_storage(cfg)
    else:
        source = private_copy(str(cfg.sqlite_path))
        try:
            copy = StorageConfig.sqlite(source.path, busy_timeout_ms=cfg.busy_timeout_ms)
            storage = await open_storage(copy)
        except BaseException:
            source.close()
            raise
    try:
        yield storage
    finally:
        try:
            await storage.close()
        finally:
            if source is not None:
                source.close()


def _writable(db_path: Path) -> bool:
    """Whether opening the database in place could write what SQLite and mopsgate write
    beside it (a database that does not exist yet is for the opener to report)."""
    if not db_path.exists():
        return True
    return os.access(db_path, os.W_OK) and os.access(db_path.parent, os.W_OK)


async def append_once(cfg: StorageConfig, event: AuditEvent) -> AuditRecord:
    """One audit row from a short-lived process (a CLI command): the same writer, the same
    chaining and durability rules as the server's, as a batch of one."""
    if cfg.is_postgres:
        from mopsgate.storage.postgres import backend

        return await backend.append_once(cfg.url, cfg.where, event, cfg.busy_timeout_ms)
    sink = await SqliteAuditStore.open(cfg.sqlite_path, busy_timeout_ms=cfg.busy_timeout_ms)
    try:
        return await sink.append(event)
    finally:
        await sink.close()


async def stored_decisions(cfg: StorageConfig) -> tuple[list[StoredDecision], dict[str, str]]:
    """Every approval and rejection with its proof, and the recorded manifest texts they name
    (read-only, for ``audit verify``)."""
    if cfg.is_postgres:
        from mopsgate.storage.postgres import backend

        return await backend.stored_decisions(cfg.url, cfg.where)
    if not cfg.sqlite_path.is_file():
        return [], {}
    # Only `audit verify` reads them: a serve start does not import the decision audit.
    from mopsgate.storage.sqlite.decisions_read import read_decisions

    return await read_decisions(str(cfg.sqlite_path))


async def stored_exceptions(cfg: StorageConfig) -> list[Waiver]:
    """Every time-boxed exception, read-only (``manifest explain``, ``exception list``): no
    lock needed, nothing created where there is no database."""
    if cfg.is_postgres:
        from mopsgate.storage.postgres import backend

        return await backend.stored_exceptions(cfg.url, cfg.where)
    if not cfg.sqlite_path.is_file():
        return []
    return await read_exceptions(str(cfg.sqlite_path))


def audit_reader(cfg: StorageConfig) -> AuditReader:
    """A read-only view of the audit log, for auditors (it never creates a database)."""
    if cfg.is_postgres:
        from mopsgate.storage.postgres.audit_read import PgAuditReader

        return PgAuditReader(cfg.url, where=cfg.where)
    return SqliteAuditReader(cfg.sqlite_path)


def explain_failure(cfg: StorageConfig, exc: BaseException) -> StorageUnavailable | None:
    """The failure of a command that touched the database, as a :class:`StorageUnavailable`
    naming its cause (locked, read-only, full, damaged); None when ``exc`` is not about the
    database. Code that still reaches SQLite directly raises raw driver errors; this is where
    they become the same one-line explanation as everything behind the ports."""
    if isinstance(exc, StorageUnavailable):
        return exc
    if cfg.is_postgres and type(exc).__module__.startswith(("psycopg", "psycopg_pool")):
        from mopsgate.storage.postgres.db import unavailable as pg_unavailable

        return pg_unavailable(cfg.where, exc)
    if isinstance(exc, sqlite3.Error) or (
        isinstance(exc, PermissionError) and _in_state_dir(cfg, exc.filename)
    ):
        return unavailable(cfg.where, exc)
    return None


def _in_state_dir(cfg: StorageConfig, filename: object) -> bool:
    """A permission error on the state directory or a file in it (not, say, the manifest)."""
    if not cfg.url.startswith(SQLITE_PREFIX) or not isinstance(filename, str | Path):
        return False
    folder = cfg.sqlite_path.resolve().parent
    target = Path(filename).resolve()
    return target == folder or folder in target.parents


class _Probed(Exception):
    """Raised by the write probe to roll its transaction back."""


def _write_probe(conn: sqlite3.Connection) -> None:
    # Taking the lock is not enough: SQLite opens a file it cannot write read-only and lets a
    # read-only connection take the write lock; only writing a page says it cannot.
    conn.execute("CREATE TABLE mopsgate_write_probe (x INTEGER)")
    raise _Probed


async def check_writable(cfg: StorageConfig) -> None:
    """Write once (rolled back, so nothing stays), waiting as long as any write would: a locked
    or read-only database (or a PostgreSQL standby) is refused before a server starts, with its
    cause, instead of failing every call (or the start-up, with a traceback)."""
    if cfg.is_postgres:
        from mopsgate.storage.postgres import backend

        return await backend.check_writable(cfg.url, cfg.where, cfg.busy_timeout_ms)
    db = await SqliteDb.open(cfg.sqlite_path, name="probe", busy_timeout_ms=cfg.busy_timeout_ms)
    try:
        await db.write(_write_probe)
    except _Probed:
        pass
    finally:
        await db.close()


async def schema_status(cfg: StorageConfig) -> SchemaStatus:
    """Where the database stands, without changing it (a PostgreSQL database mopsgate never
    upgraded is at version 0: it is never created on first use)."""
    if cfg.is_postgres:
        from mopsgate.storage.postgres import backend

        return await backend.schema_status(cfg.url, cfg.where)
    path = cfg.sqlite_path
    if not path.is_file():
        return SchemaStatus(cfg.where, None)
    db, source = await open_for_reading(str(path), name="schema")
    try:
        return SchemaStatus(cfg.where, await db.read(version_of))
    finally:
        await db.close()
        source.close()


def sqlite_start_status(cfg: StorageConfig) -> SchemaStatus:
    """:func:`check_writable`, then :func:`schema_status`, for a SQLite server about to start:
    the same probe and the same version read, on one connection of the calling thread, with no
    event loop. Each unit through :class:`SqliteDb` is a hand-off to the connection's own thread
    and back; before a server's first answer there are a dozen for these two checks, and on a
    loaded machine each waits for a core (tens of ms in all). Nothing else runs yet, so nothing
    is gained by the thread. Raises as they do."""
    path = str(cfg.sqlite_path)
    try:
        conn = _connect(
            path,
            readonly=False,
            query_only=False,
            synchronous="FULL",
            busy_timeout_ms=cfg.busy_timeout_ms,
            immutable=False,
        )
        try:
            with contextlib.suppress(_Probed):
                _in_transaction(conn, "BEGIN IMMEDIATE", _write_probe)
            current = _in_transaction(conn, "BEGIN", version_of)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise unavailable(path, exc) from exc
    return SchemaStatus(cfg.where, current)


async def ensure_schema(cfg: StorageConfig) -> None:
    """Create a new database at HEAD (SQLite only); refuse one at another version
    (SchemaTooOld/New)."""
    if cfg.is_postgres:
        from mopsgate.storage.postgres import backend

        return await backend.ensure_schema(cfg.url, cfg.where)
    db = await SqliteDb.open(cfg.sqlite_path, name="schema", busy_timeout_ms=cfg.busy_timeout_ms)
    try:
        require_head(cfg.where, await db.write(prepare))
    finally:
        await db.close()


async def upgrade_schema(cfg: StorageConfig) -> list[Migration]:
    """Apply every pending migration, each with its version row in one transaction; a new
    database is created at HEAD. Returns what was applied; refuses a newer schema."""
    if cfg.is_postgres:
        from mopsgate.storage.postgres import backend

        return await backend.upgrade_schema(cfg.url, cfg.where, cfg.busy_timeout_ms)
    db = await SqliteDb.open(cfg.sqlite_path, name="schema", busy_timeout_ms=cfg.busy_timeout_ms)
    applied: list[Migration] = []
    try:
        await db.write(prepare)
        while (done := await db.write(upgrade_one)) is not None:
            applied.append(done)
        current = await db.read(version_of)
        require_head(cfg.where, current or 0)
    finally:
        await db.close()
    return applied


__all__ = [
    "AuditReader",
    "Migration",
    "SchemaStatus",
    "Storage",
    "StorageConfig",
    "append_once",
    "audit_reader",
    "check_writable",
    "ensure_schema",
    "explain_failure",
    "open_storage",
    "schema_status",
    "sqlite_start_status",
    "stored_exceptions",
    "upgrade_schema",
]

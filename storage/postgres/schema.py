"""Versioned schema on PostgreSQL: which version a database is at, and upgrading it.

Unlike a new SQLite file, an empty PostgreSQL database is never given a schema on first use:
it is version 0, and every replica refuses to start on it (SchemaTooOld) until an operator has
run ``mopsgate db upgrade`` against it. Several replicas starting at once with a fresh schema
would otherwise race to create it, and the database belongs to whoever administers it.

Each migration runs with its ``schema_version`` row in one transaction (PostgreSQL's DDL is
transactional), under an advisory lock, so two operators upgrading at once apply each
migration once.
"""

from __future__ import annotations

from mopsgate.storage.errors import StorageNotFound
from mopsgate.storage.migrate import MIGRATIONS, Migration, applied_by, pending, too_new
from mopsgate.storage.migrate import migration_files as _migration_files
from mopsgate.storage.postgres.db import Conn

VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_by TEXT NOT NULL
)"""
# pg_advisory_xact_lock key for upgrades: "mopsgate schema" (any constant unique to us).
UPGRADE_LOCK = 0x6D6F70736761_01


def migration_files() -> dict[str, str]:
    """``NNNN_name`` → SQL text of every migration file shipped for PostgreSQL."""
    return _migration_files("mopsgate.storage.postgres")


async def version_of(conn: Conn) -> int:
    """The schema version of the database; 0 when mopsgate has never upgraded it."""
    cur = await conn.execute("SELECT to_regclass('schema_version') IS NOT NULL")
    row = await cur.fetchone()
    if row is None or not row[0]:
        return 0
    cur = await conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version")
    found = await cur.fetchone()
    return int(found[0]) if found is not None else 0


async def upgrade_one(conn: Conn, where: str) -> Migration | None:
    """A write unit: apply the next pending migration, if any (one per transaction, so an
    upgrade interrupted half-way stops at a version boundary). Refuses a newer schema."""
    await conn.execute("SELECT pg_advisory_xact_lock(%s)", (UPGRADE_LOCK,))
    await conn.execute(VERSION_TABLE)
    current = await version_of(conn)
    if current > MIGRATIONS[-1].version:
        raise too_new(where, current)
    todo = pending(current)
    if not todo:
        return None
    migration = todo[0]
    await conn.execute(migration_files()[migration.label].encode())
    await conn.execute(
        "INSERT INTO schema_version (version, name, applied_by) VALUES (%s, %s, %s)",
        (migration.version, migration.name, applied_by()),
    )
    return migration


async def readable_version(conn: Conn, where: str) -> int:
    """A read unit for readers (auditors): the version, refusing a database mopsgate never
    upgraded (nothing to read) or one a newer mopsgate wrote."""
    current = await version_of(conn)
    if current == 0:
        raise StorageNotFound(
            f"there is no mopsgate schema in the database at {where}",
            hint="Check the database URL (MOPSGATE_DATABASE_URL or --database-url).",
            details={"where": where},
        )
    if current > MIGRATIONS[-1].version:
        raise too_new(where, current)
    return current

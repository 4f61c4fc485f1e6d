"""Versioned schema on SQLite: create a fresh file at HEAD, stamp a file from before versioning,
upgrade on request, and say which version a file is at.

Units here run inside :meth:`SqliteDb.write`/:meth:`SqliteDb.read`; SQLite's DDL is
transactional, so a migration and its ``schema_version`` row commit together or not at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime

from mopsgate.storage.errors import StorageUnavailable
from mopsgate.storage.migrate import HEAD, MIGRATIONS, Migration, applied_by, pending
from mopsgate.storage.migrate import migration_files as _migration_files

VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    applied_by TEXT NOT NULL
)"""
# What mopsgate created before its schema had versions: such a file is version 1 as it stands.
PRE_VERSIONING = frozenset(
    {
        "audit_log",
        "changes",
        "approvals",
        "applied_records",
        "used_nonces",
        "freeze_state",
        "bearer_tokens",
        "call_window",
    }
)


def migration_files() -> dict[str, str]:
    """``NNNN_name`` → SQL text of every migration file shipped for SQLite."""
    return _migration_files("mopsgate.storage.sqlite")


def statements(script: str) -> list[str]:
    """Split a migration into statements (so each runs through ``execute`` inside our own
    transaction; ``executescript`` would commit on its own)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if stripped := buf.strip():
                out.append(stripped)
            buf = ""
    if buf.strip() and not all(
        line.strip().startswith("--") or not line.strip() for line in buf.splitlines()
    ):
        raise ValueError(f"incomplete SQL statement at the end of a migration: {buf.strip()!r}")
    return out


def _tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    return {str(row[0]) for row in rows}


def _apply(conn: sqlite3.Connection, migrations: Iterable[Migration]) -> None:
    sql = migration_files()
    for migration in migrations:
        for statement in statements(sql[migration.label]):
            conn.execute(statement)
        conn.execute(
            "INSERT INTO schema_version (version, name, applied_at, applied_by) "
            "VALUES (?, ?, ?, ?)",
            (
                migration.version,
                migration.name,
                datetime.now(UTC).isoformat(timespec="seconds"),
                applied_by(),
            ),
        )


def version_of(conn: sqlite3.Connection) -> int | None:
    """The schema version of the open file; None for a file with no tables (a new one)."""
    tables = _tables(conn)
    if "schema_version" in tables:
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)
    if not tables:
        return None
    if tables & PRE_VERSIONING:
        return 1
    raise StorageUnavailable(
        f"the database holds tables that are not mopsgate's ({', '.join(sorted(tables)[:5])})",
        hint="Point --home (or MOPSGATE_HOME) at mopsgate's own state directory.",
    )


def prepare(conn: sqlite3.Connection) -> int:
    """Inside ``BEGIN IMMEDIATE``: a new file is created at HEAD, a file from before
    versioning is stamped 1; returns the version. Never upgrades: that is an operator's act
    (`mopsgate db upgrade`), taken after a backup."""
    current = version_of(conn)
    if current is None:
        conn.execute(VERSION_TABLE)
        _apply(conn, MIGRATIONS)
        return HEAD
    if "schema_version" not in _tables(conn):
        conn.execute(VERSION_TABLE)
        _apply(conn, MIGRATIONS[:1])  # IF NOT EXISTS throughout: fills in what was missing
    return current


def upgrade_one(conn: sqlite3.Connection) -> Migration | None:
    """Inside ``BEGIN IMMEDIATE``: apply the next pending migration, if any (one per
    transaction, so an upgrade interrupted half-way stops at a version boundary)."""
    todo = pending(prepare(conn))
    if not todo:
        return None
    _apply(conn, todo[:1])
    return todo[0]

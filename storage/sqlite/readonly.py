"""Reading an audit log nobody may write: exported media, a read-only mount, a copy made 0444
in a 0555 directory for forensics.

SQLite in WAL mode wants to create or write the ``-shm`` index next to the database even to
read it, so a plain read-only open of such a copy fails ("attempt to write a readonly
database"). Two ways round it, neither of which ever writes beside the evidence:

- no write-ahead log beside the file (or an empty one): everything is in the main file, so it
  is opened ``immutable`` (no locks, no -shm) and read as it is;
- a write-ahead log with frames not yet merged: ``immutable`` would silently ignore them (and
  the rows they hold), so the database and its log are copied into a private temporary
  directory and the copy is read; the copy goes when the reader is done.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mopsgate.storage.errors import StorageUnavailable
from mopsgate.storage.sqlite.db import SqliteDb
from mopsgate.storage.sqlite.diagnose import is_read_only


@dataclass(frozen=True)
class ReadSource:
    """Where to read the database from, and how."""

    path: str
    immutable: bool = False
    copy: tempfile.TemporaryDirectory[str] | None = None

    def close(self) -> None:
        if self.copy is not None:
            self.copy.cleanup()


def read_in_place(path: str) -> ReadSource:
    return ReadSource(path)


def read_only_source(path: str) -> ReadSource:
    """For a database that cannot be opened read-only in place (see the module docstring)."""
    wal = Path(f"{path}-wal")
    if not wal.exists() or wal.stat().st_size == 0:
        return ReadSource(path, immutable=True)
    return private_copy(path)


def private_copy(path: str) -> ReadSource:
    """The database and its write-ahead log (if any), copied into a private temporary
    directory that goes with :meth:`ReadSource.close`."""
    copy = tempfile.TemporaryDirectory(prefix="mopsgate-readonly-")
    target = Path(copy.name) / Path(path).name
    try:
        shutil.copyfile(path, target)
        wal = Path(f"{path}-wal")
        if wal.exists():  # rows not yet merged into the main file
            shutil.copyfile(wal, f"{target}-wal")
    except BaseException:
        copy.cleanup()
        raise
    return ReadSource(str(target), copy=copy)


def _first_read(conn: sqlite3.Connection) -> None:
    # Opening succeeds either way; the first read is where a read-only WAL database fails.
    conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()


async def open_for_reading(
    path: str, *, name: str, source: ReadSource | None = None
) -> tuple[SqliteDb, ReadSource]:
    """A read-only connection: in place when SQLite can, else as the module docstring says.
    Returns the source used, so later connections (and forked checkers) read the same."""
    source = source or read_in_place(path)
    db = await SqliteDb.open(source.path, name=name, readonly=True, immutable=source.immutable)
    try:
        await db.read(_first_read)
        return db, source
    except StorageUnavailable as exc:
        await db.close()
        in_place = source.path == path and not source.immutable
        if not in_place or not is_read_only(exc.__cause__ or exc):
            raise
    fallback = read_only_source(path)
    db = await SqliteDb.open(fallback.path, name=name, readonly=True, immutable=fallback.immutable)
    return db, fallback

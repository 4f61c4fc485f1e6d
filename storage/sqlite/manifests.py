"""Manifest history on SQLite (see ``governance/manifest_history.py``): each text once, by
digest; each load as a row."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from functools import partial

from mopsgate.governance.manifest_history import ManifestLoad
from mopsgate.storage.sqlite.codec import ts, when
from mopsgate.storage.sqlite.db import SqliteDb

_COLUMNS = "digest, at, outcome, loaded_by, git_commit, git_author, reason"


def _record(conn: sqlite3.Connection, load: ManifestLoad, text: str) -> None:
    conn.execute(
        "INSERT INTO manifest_texts (digest, text) VALUES (?, ?) ON CONFLICT (digest) DO NOTHING",
        (load.digest, text),
    )
    conn.execute(
        f"INSERT INTO manifest_loads ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
        (
            load.digest,
            ts(load.at),
            load.outcome,
            load.loaded_by,
            load.git_commit,
            load.git_author,
            load.reason,
        ),
    )


def _versions(conn: sqlite3.Connection, since: datetime | None) -> list[ManifestLoad]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM manifest_loads WHERE at >= ? ORDER BY at, id",  # noqa: S608
        (ts(since) if since is not None else "",),
    ).fetchall()
    return [ManifestLoad(r[0], when(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows]


def _text(conn: sqlite3.Connection, digest: str) -> str | None:
    row = conn.execute("SELECT text FROM manifest_texts WHERE digest = ?", (digest,)).fetchone()
    return None if row is None else str(row[0])


class SqliteManifestHistory:
    """The :class:`~mopsgate.storage.api.ManifestHistory` for SQLite."""

    def __init__(self, state: SqliteDb, read: SqliteDb) -> None:
        self._state = state
        self._read = read

    async def record(self, load: ManifestLoad, text: str) -> None:
        await self._state.write(partial(_record, load=load, text=text))

    async def versions(self, *, since: datetime | None = None) -> list[ManifestLoad]:
        return await self._read.read(partial(_versions, since=since))

    async def text(self, digest: str) -> str | None:
        return await self._read.read(partial(_text, digest=digest))

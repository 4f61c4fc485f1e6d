"""Manifest history on PostgreSQL (see ``governance/manifest_history.py``): each text once, by
digest; each load as a row."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from mopsgate.governance.manifest_history import ManifestLoad
from mopsgate.storage.postgres.db import Conn, PgDb

_COLUMNS = "digest, at, outcome, loaded_by, git_commit, git_author, reason"


async def _record(conn: Conn, load: ManifestLoad, text: str) -> None:
    await conn.execute(
        "INSERT INTO manifest_texts (digest, text) VALUES (%s, %s) ON CONFLICT (digest) DO NOTHING",
        (load.digest, text),
    )
    await conn.execute(
        f"INSERT INTO manifest_loads ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)",  # noqa: S608
        (
            load.digest,
            load.at,
            load.outcome,
            load.loaded_by,
            load.git_commit,
            load.git_author,
            load.reason,
        ),
    )


async def _versions(conn: Conn, since: datetime | None) -> list[ManifestLoad]:
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM manifest_loads "  # noqa: S608
        "WHERE %s::timestamptz IS NULL OR at >= %s ORDER BY at, id",
        (since, since),
    )
    return [ManifestLoad(*row) for row in await cur.fetchall()]


async def _text(conn: Conn, digest: str) -> str | None:
    cur = await conn.execute("SELECT text FROM manifest_texts WHERE digest = %s", (digest,))
    row = await cur.fetchone()
    return None if row is None else str(row[0])


class PgManifestHistory:
    """The :class:`~mopsgate.storage.api.ManifestHistory` for PostgreSQL."""

    def __init__(self, db: PgDb) -> None:
        self._db = db

    async def record(self, load: ManifestLoad, text: str) -> None:
        await self._db.write(partial(_record, load=load, text=text))

    async def versions(self, *, since: datetime | None = None) -> list[ManifestLoad]:
        return await self._db.read(partial(_versions, since=since))

    async def text(self, digest: str) -> str | None:
        return await self._db.read(partial(_text, digest=digest))

"""Everything the SQLite backend opens for one process.

Connections by job, each on its own thread: ``state`` (schema check at open; changes, freeze,
tokens, manifest history, the outbox), ``read`` (query-only: change and token lookups, the
freeze state, call windows, history; in WAL mode it never waits for a writer) and ``audit``
(the group-commit writer). PRAGMAs, durability and the schema version are checked once here, at
open, never per request.
"""

from __future__ import annotations

from pathlib import Path

from mopsgate.storage.migrate import require_head
from mopsgate.storage.sqlite.audit import SqliteAuditStore
from mopsgate.storage.sqlite.audit_read import SqliteAuditReader
from mopsgate.storage.sqlite.changes import SqliteChangeStore
from mopsgate.storage.sqlite.db import BUSY_TIMEOUT_MS, SqliteDb
from mopsgate.storage.sqlite.exceptions import SqliteExceptions
from mopsgate.storage.sqlite.freeze import SqliteFreezeSwitch
from mopsgate.storage.sqlite.invites import SqliteReviewerInvites
from mopsgate.storage.sqlite.manifests import SqliteManifestHistory
from mopsgate.storage.sqlite.outbox import SqliteOutbox
from mopsgate.storage.sqlite.rates import SqliteRateWindows
from mopsgate.storage.sqlite.schema import prepare
from mopsgate.storage.sqlite.tokens import SqliteTokenStore


class SqliteStorage:
    def __init__(self, path: str, state: SqliteDb, read: SqliteDb, audit: SqliteAuditStore) -> None:
        self.path = path
        self.state = state
        self.read = read
        self.audit = audit
        self.audit_reader = SqliteAuditReader(path)
        self.changes = SqliteChangeStore(state, read)
        self.freeze = SqliteFreezeSwitch(state, read)
        self.tokens = SqliteTokenStore(state, read, path)
        self.rates = SqliteRateWindows(read, audit)
        self.manifests = SqliteManifestHistory(state, read)
        self.outbox = SqliteOutbox(state)
        self.invites = SqliteReviewerInvites(state, read)
        self.exceptions = SqliteExceptions(state, read)

    @classmethod
    async def open(
        cls, path: str | Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS
    ) -> SqliteStorage:
        """Create a new file at HEAD, stamp one from before versioning, refuse any other
        version than HEAD (SchemaTooOld / SchemaTooNew, saying what to run)."""
        opened: list[SqliteDb | SqliteAuditStore] = []
        try:
            state = await SqliteDb.open(path, name="state", busy_timeout_ms=busy_timeout_ms)
            opened.append(state)
            require_head(str(path), await state.write(prepare))
            read = await SqliteDb.open(
                path, name="read", query_only=True, busy_timeout_ms=busy_timeout_ms
            )
            opened.append(read)
            audit = await SqliteAuditStore.open(
                path, busy_timeout_ms=busy_timeout_ms, prepare_schema=False
            )
            opened.append(audit)
            storage = cls(str(path), state, read, audit)
            await storage.tokens.publish_current()
        except BaseException:
            for part in reversed(opened):
                await part.close()
            raise
        return storage

    async def close(self) -> None:
        try:
            await self.audit.close()
        finally:
            await self.read.close()
            await self.state.close()

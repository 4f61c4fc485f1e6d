"""Everything the SQLite backend opens for one process.

Connections by job, each on its own thread: ``state`` (schema check at open; the change,
freeze and token tables later) and ``audit`` (the group-commit writer). PRAGMAs, durability and
the schema version are checked once here, at open, never per request.
"""

from __future__ import annotations

from pathlib import Path

from mopsgate.storage.migrate import require_head
from mopsgate.storage.sqlite.audit import SqliteAuditStore
from mopsgate.storage.sqlite.audit_read import SqliteAuditReader
from mopsgate.storage.sqlite.db import BUSY_TIMEOUT_MS, SqliteDb
from mopsgate.storage.sqlite.schema import prepare


class SqliteStorage:
    def __init__(
        self, path: str, state: SqliteDb, audit: SqliteAuditStore, reader: SqliteAuditReader
    ) -> None:
        self.path = path
        self.state = state
        self.audit = audit
        self.audit_reader = reader

    @classmethod
    async def open(
        cls, path: str | Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS
    ) -> SqliteStorage:
        """Create a new file at HEAD, stamp one from before versioning, refuse any other
        version than HEAD (SchemaTooOld / SchemaTooNew, saying what to run)."""
        state = await SqliteDb.open(path, name="state", busy_timeout_ms=busy_timeout_ms)
        try:
            require_head(str(path), await state.write(prepare))
            audit = await SqliteAuditStore.open(
                path, busy_timeout_ms=busy_timeout_ms, prepare_schema=False
            )
        except BaseException:
            await state.close()
            raise
        return cls(str(path), state, audit, SqliteAuditReader(path))

    async def close(self) -> None:
        try:
            await self.audit.close()
        finally:
            await self.state.close()

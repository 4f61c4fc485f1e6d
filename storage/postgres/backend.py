"""Everything the PostgreSQL backend opens for one process, and the operations the CLI runs
against a database without opening all of it (schema status and upgrade, one audit row,
the stored decisions, the write probe before ``serve``).

Per replica: a pool for state (changes, freeze, tokens, rate windows, history, outbox, invites,
audit reads) and a pool of one connection for the audit writer. The schema version is checked
once at open; an empty database (version 0) is refused like an old one, never created.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from functools import partial

from mopsgate.governance.audit_chain import AuditEvent, AuditRecord
from mopsgate.governance.decision_audit import StoredDecision
from mopsgate.governance.waivers import Waiver
from mopsgate.storage.migrate import Migration, SchemaStatus, require_head
from mopsgate.storage.postgres.audit import PgAuditStore
from mopsgate.storage.postgres.audit_read import PgAuditReader
from mopsgate.storage.postgres.changes import PgChangeStore
from mopsgate.storage.postgres.db import LOCK_TIMEOUT_MS, POOL_SIZE, Conn, PgDb
from mopsgate.storage.postgres.decisions_read import read_decisions
from mopsgate.storage.postgres.exceptions import PgExceptions, all_exceptions
from mopsgate.storage.postgres.freeze import PgFreezeSwitch
from mopsgate.storage.postgres.invites import PgReviewerInvites
from mopsgate.storage.postgres.manifests import PgManifestHistory
from mopsgate.storage.postgres.outbox import PgOutbox
from mopsgate.storage.postgres.rates import PgRateWindows
from mopsgate.storage.postgres.schema import readable_version, upgrade_one, version_of
from mopsgate.storage.postgres.tokens import PgTokenStore


class PgStorage:
    def __init__(self, url: str, where: str, db: PgDb, audit: PgAuditStore) -> None:
        self.where = where
        self.db = db
        self.audit = audit
        self.audit_reader = PgAuditReader(url, where=where, db=db)
        self.changes = PgChangeStore(db)
        self.freeze = PgFreezeSwitch(db)
        self.tokens = PgTokenStore(db)
        self.rates = PgRateWindows(db)
        self.manifests = PgManifestHistory(db)
        self.outbox = PgOutbox(db)
        self.invites = PgReviewerInvites(db)
        self.exceptions = PgExceptions(db)

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        where: str,
        lock_timeout_ms: int = LOCK_TIMEOUT_MS,
        pool_size: int = POOL_SIZE,
    ) -> PgStorage:
        """Connect, refuse any schema version but HEAD (an empty database is version 0:
        SchemaTooOld, saying to run `mopsgate db upgrade`), start the audit writer."""
        db = await PgDb.open(
            url, where=where, name="state", max_size=pool_size, lock_timeout_ms=lock_timeout_ms
        )
        try:
            require_head(where, await db.read(version_of))
            audit = await PgAuditStore.open(url, where=where, lock_timeout_ms=lock_timeout_ms)
        except BaseException:
            await db.close()
            raise
        return cls(url, where, db, audit)

    async def close(self) -> None:
        try:
            await self.changes.release_locks()
            await self.audit.close()
        finally:
            await self.db.close()


@contextlib.asynccontextmanager
async def one_connection(
    url: str, where: str, lock_timeout_ms: int = LOCK_TIMEOUT_MS
) -> AsyncIterator[PgDb]:
    """A pool of one, for a short CLI operation."""
    db = await PgDb.open(url, where=where, name="cli", max_size=1, lock_timeout_ms=lock_timeout_ms)
    try:
        yield db
    finally:
        await db.close()


async def schema_status(url: str, where: str) -> SchemaStatus:
    async with one_connection(url, where) as db:
        return SchemaStatus(where, await db.read(version_of))


async def upgrade_schema(url: str, where: str, lock_timeout_ms: int) -> list[Migration]:
    """Apply every pending migration, each with its version row in one transaction."""
    applied: list[Migration] = []
    async with one_connection(url, where, lock_timeout_ms) as db:
        while (done := await db.write(partial(upgrade_one, where=where))) is not None:
            applied.append(done)
        require_head(where, await db.read(version_of))
    return applied


async def ensure_schema(url: str, where: str) -> None:
    """Refuse a database at any other version than HEAD (never creates one)."""
    async with one_connection(url, where) as db:
        require_head(where, await db.read(version_of))


class _Probed(Exception):
    """Raised by the write probe to roll its transaction back."""


async def _write_probe(conn: Conn) -> None:
    # A standby or a read-only transaction default refuses this: the server must take writes.
    await conn.execute("CREATE TEMPORARY TABLE mopsgate_write_probe (x INTEGER)")
    raise _Probed


async def check_writable(url: str, where: str, lock_timeout_ms: int) -> None:
    async with one_connection(url, where, lock_timeout_ms) as db:
        with contextlib.suppress(_Probed):
            await db.write(_write_probe)


async def append_once(url: str, where: str, event: AuditEvent, lock_timeout_ms: int) -> AuditRecord:
    """One audit row from a short-lived process (a CLI command), chained like the server's."""
    await ensure_schema(url, where)
    sink = await PgAuditStore.open(url, where=where, lock_timeout_ms=lock_timeout_ms)
    try:
        return await sink.append(event)
    finally:
        await sink.close()


async def stored_decisions(url: str, where: str) -> tuple[list[StoredDecision], dict[str, str]]:
    async with one_connection(url, where) as db:
        await db.read(partial(readable_version, where=where))
        return await db.read(read_decisions)


async def stored_exceptions(url: str, where: str) -> list[Waiver]:
    async with one_connection(url, where) as db:
        await db.read(partial(readable_version, where=where))
        return await db.read(all_exceptions)

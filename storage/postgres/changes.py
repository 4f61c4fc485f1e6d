"""Changes on PostgreSQL: the :class:`~mopsgate.governance.ports.ChangeStore` over the write
units of ``change_units.py`` (one transaction per state change) and the reads of
``change_rows.py``.

Who is applying a change right now is held by an advisory lock from the claim to the end of
the apply (``apply_lock.py``): start-up recovery settles only changes no live replica holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

from mopsgate.crm.records import RecordResult
from mopsgate.governance import change_rules as rules
from mopsgate.governance.change_model import Change, ChangeStatus
from mopsgate.governance.change_rules import (
    DEFAULT_LIST_LIMIT,
    Audited,
    Done,
    FinalStatus,
    RecordBudget,
)
from mopsgate.governance.errors import AuditUnavailable
from mopsgate.governance.freeze import FreezeState, frozen_error
from mopsgate.governance.outbox import OutboxMessage
from mopsgate.storage.change_verbs import ChangeVerbs, or_now
from mopsgate.storage.errors import StorageUnavailable
from mopsgate.storage.postgres import change_rows as rows
from mopsgate.storage.postgres import change_units as units
from mopsgate.storage.postgres.apply_lock import ApplyLocks
from mopsgate.storage.postgres.audit import audit_unavailable
from mopsgate.storage.postgres.db import PgDb, unavailable
from mopsgate.storage.postgres.freeze import read_state


class PgChangeStore(ChangeVerbs):
    """The :class:`~mopsgate.governance.ports.ChangeStore` for PostgreSQL."""

    _units = units.PG_UNITS

    def __init__(self, db: PgDb) -> None:
        self._db = db
        self._locks = ApplyLocks(db)

    async def _done(self, unit: partial[Any]) -> Done:
        try:
            done: Done = await self._db.write(unit)
        except units.RollBack as exc:
            raise exc.refusal from None
        return done

    async def _write(self, unit: partial[Any]) -> Change:
        return (await self._done(unit)).result()

    def _audit_unavailable(self, exc: StorageUnavailable) -> AuditUnavailable:
        return audit_unavailable(self._db.where, exc)

    async def insert(
        self,
        change: Change,
        *,
        budget: RecordBudget | None = None,
        notify: Sequence[OutboxMessage] = (),
        audited_after: bool = False,
    ) -> Change:
        unit = partial(units.insert, change=change, budget=budget, notify=notify)
        return await self._write(partial(unit, audited_after=audited_after))

    async def withdraw_unaudited(
        self, change_id: str, reason: str, audit: Audited, *, now: datetime | None = None
    ) -> Change | None:
        unit = partial(units.withdraw, change_id=change_id, reason=reason, now=or_now(now))
        try:
            done = await self._done(partial(unit, audit=audit))
        except StorageUnavailable as exc:
            raise self._audit_unavailable(exc) from exc
        return None if done.change is None and done.refusal is None else done.result()

    async def unaudited_ids(self, created_before: datetime) -> list[str]:
        return await self._db.read(partial(rows.unaudited_ids, created_before=created_before))

    async def get(self, change_id: str) -> Change | None:
        return await self._db.read(partial(rows.load, change_id=change_id))

    async def require(self, change_id: str) -> Change:
        change = await self.get(change_id)
        if change is None:
            raise rules.not_found(change_id)
        return change

    async def list_changes(
        self,
        status: ChangeStatus | None = None,
        requester: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
    ) -> list[Change]:
        status_text = None if status is None else str(status)
        unit = partial(rows.list_changes, status=status_text, requester=requester, limit=limit)
        return await self._db.read(unit)

    async def claim_for_apply(
        self, change_id: str, token_nonce: str, *, now: datetime | None = None, resume: bool = False
    ) -> Change:
        """Take the change's apply lock, then claim; the lock stays held until the apply ends
        (:meth:`finish_apply`, or a failed write of its results). A change whose lock another
        process holds is being applied (or settled) right now, and is refused as applying."""
        if not await self._locks.take(change_id):
            raise await self._db.read(partial(units.busy, change_id=change_id, nonce=token_nonce))
        unit = partial(units.claim, change_id=change_id, nonce=token_nonce, now=or_now(now))
        try:
            return await self._write(partial(unit, resume=resume))
        except units.AuditBlocked as exc:
            await self._locks.release(change_id)
            blocked = unavailable(self._db.where, exc.cause)
            raise self._audit_unavailable(blocked) from exc.cause
        except BaseException:
            await self._locks.release(change_id)
            raise

    async def record_results(
        self,
        change_id: str,
        items: Sequence[tuple[RecordResult, dict[str, Any]]],
        *,
        now: datetime | None = None,
    ) -> None:
        unit = partial(units.record_results, change_id=change_id, items=items, now=or_now(now))
        try:
            done = await self._done(unit)
        except BaseException:
            # This process's apply ends here (the applier does not finish it): let recovery
            # settle the change rather than hold it until the process exits.
            await self._locks.release(change_id)
            raise
        if done.refusal is not None:
            raise done.refusal

    async def finish_apply(
        self,
        change_id: str,
        status: FinalStatus,
        detail: str | None,
        *,
        now: datetime | None = None,
    ) -> Change:
        unit = partial(units.finish, change_id=change_id, status=status, detail=detail)
        try:
            return await self._write(partial(unit, now=or_now(now)))
        finally:
            await self._locks.release(change_id)

    async def end_apply(self, change_id: str) -> None:
        """Let go of the change's apply lock (a no-op once :meth:`finish_apply` did): a
        cancelled apply no longer keeps it until the process exits, so another replica's
        recovery may settle the change. Closing a dedicated connection never suspends."""
        await self._locks.release(change_id)

    async def expire_due(self, now: datetime | None = None) -> list[str]:
        return await self._db.write(partial(units.expire_due, now=or_now(now)))

    async def written_refs(self, change_id: str) -> set[str]:
        return await self._db.read(partial(rows.written_refs, change_id=change_id))

    async def records_proposed_since(self, requester: str, since: datetime) -> int:
        return await self._db.read(partial(rows.records_since, requester=requester, since=since))

    async def interrupted_ids(self) -> list[str]:
        """Changes left ``applying`` by a process that is gone: those whose apply lock this
        process can take (a change a live replica is still applying is left alone). Each lock
        is held until the change is settled (:meth:`finish_apply`) or this store closes."""
        found = []
        for change_id in await self._db.read(rows.interrupted_ids):
            if not await self._locks.take(change_id):
                continue
            current = await self.get(change_id)
            if current is not None and current.status is ChangeStatus.APPLYING:
                found.append(change_id)
            else:  # finished between the read and the lock
                await self._locks.release(change_id)
        return found

    async def release_locks(self) -> None:
        """Let go of every apply lock (on close: a process that stops applying)."""
        await self._locks.release_all()

    async def frozen(self) -> FreezeState | None:
        """Read fresh every time, never cached: a freeze from another replica is seen by the
        very next call."""
        return await self._db.read_one(read_state)

    async def ensure_not_frozen(self) -> None:
        state = await self.frozen()
        if state is not None:
            raise frozen_error(state)

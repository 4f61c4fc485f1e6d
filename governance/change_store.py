"""Where changes live: the same SQLite file as the audit log, in tables of their own.

Two faces over one set of operations (``governance.change_sql``): :class:`ChangeStore` (async,
aiosqlite) for the server and :class:`ChangeStoreSync` (sqlite3) for the reviewer CLI. Every
operation runs in ``BEGIN IMMEDIATE``, so a state transition is a compare-and-set that exactly one
of two racing callers (threads, tasks or processes) can win. WAL with ``synchronous=FULL``: a
per-record result is on disk before the next record is written, so a crash mid-apply leaves an
exact account of what was written.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

import aiosqlite

from mopsgate.connectors.model import RecordResult
from mopsgate.governance import change_sql as sql
from mopsgate.governance.change_model import Approval, Change, ChangeStatus, Decision, utcnow
from mopsgate.governance.errors import GovernanceError, NotPermitted
from mopsgate.governance.freeze import READ_SQL, FreezeState, frozen_error, state_from_row

T = TypeVar("T")
BUSY_TIMEOUT_MS = 5000
DEFAULT_LIST_LIMIT = 200
S = ChangeStatus
FinalStatus = (
    Literal[ChangeStatus.APPLIED, ChangeStatus.FAILED, ChangeStatus.STALE]
    | Literal["applied", "failed", "stale"]
)
_FINAL = frozenset({ChangeStatus.APPLIED, ChangeStatus.FAILED, ChangeStatus.STALE})
Satisfied = Callable[[list[Approval]], bool]
Guard = Callable[[Change], GovernanceError | None]


def _result(cursor: sqlite3.Cursor) -> sql.Result:
    return sql.Result(rows=list(cursor.fetchall()), rowcount=cursor.rowcount)


def run_sync(conn: sqlite3.Connection, op: sql.Op[T]) -> T:
    """Drive one operation inside ``BEGIN IMMEDIATE``; roll back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        query = next(op)
        while True:
            query = op.send(_result(conn.execute(query.sql, query.params)))
    except StopIteration as stop:
        conn.execute("COMMIT")
        return stop.value  # type: ignore[no-any-return]
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


async def run_async(conn: aiosqlite.Connection, op: sql.Op[T]) -> T:
    await conn.execute("BEGIN IMMEDIATE")
    try:
        query = next(op)
        while True:
            cursor = await conn.execute(query.sql, query.params)
            rows = [tuple(row) for row in await cursor.fetchall()]
            query = op.send(sql.Result(rows=rows, rowcount=cursor.rowcount))
    except StopIteration as stop:
        await conn.execute("COMMIT")
        return stop.value  # type: ignore[no-any-return]
    except BaseException:
        if conn.in_transaction:
            await conn.execute("ROLLBACK")
        raise


def _change(done: sql.Done) -> Change:
    if done.refusal is not None:
        raise done.refusal
    assert done.change is not None
    return done.change


def _ok(done: sql.Done) -> None:
    if done.refusal is not None:
        raise done.refusal


def _resolve_now(now: datetime | None) -> datetime:
    return now if now is not None else utcnow()


def _reject_patch(by: str, reason: str, now: datetime) -> dict[str, Any]:
    return {"rejection": Decision(by=by, reason=reason, at=now), "status_detail": reason}


class ChangeStore:
    """Async store for the server; one connection, operations serialised by a lock."""

    def __init__(self, conn: aiosqlite.Connection, path: str | Path) -> None:
        self.path = path
        self._conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, db_path: str | Path) -> ChangeStore:
        conn = await aiosqlite.connect(str(db_path), isolation_level=None)
        try:
            await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            for pragma in sql.PRAGMAS:
                await conn.execute(pragma)
            for statement in sql.SCHEMA:
                await conn.execute(statement)
        except BaseException:
            await conn.close()
            raise
        return cls(conn, db_path)

    async def close(self) -> None:
        await self._conn.close()

    async def _run(self, op: sql.Op[T]) -> T:
        async with self._lock:
            return await run_async(self._conn, op)

    async def insert(self, change: Change) -> Change:
        return _change(await self._run(sql.insert(change)))

    async def get(self, change_id: str) -> Change | None:
        return await self._run(sql.load(change_id))

    async def require(self, change_id: str) -> Change:
        change = await self.get(change_id)
        if change is None:
            raise sql.not_found(change_id)
        return change

    async def list_changes(
        self,
        status: ChangeStatus | None = None,
        requester: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
    ) -> list[Change]:
        ids = await self._run(sql.list_ids(status, requester, limit))
        return await self._run(sql.load_many(ids))

    async def claim_for_apply(
        self, change_id: str, token_nonce: str, *, now: datetime | None = None, resume: bool = False
    ) -> Change:
        op = sql.claim(change_id, token_nonce, _resolve_now(now), resume)
        return _change(await self._run(op))

    async def record_result(
        self,
        change_id: str,
        result: RecordResult,
        after_image: dict[str, Any],
        *,
        now: datetime | None = None,
    ) -> None:
        _ok(await self._run(sql.record_result(change_id, result, after_image, _resolve_now(now))))

    async def record_results(
        self,
        change_id: str,
        items: Sequence[tuple[RecordResult, dict[str, Any]]],
        *,
        now: datetime | None = None,
    ) -> None:
        """A whole vendor batch's outcomes in one durable transaction (one fsync per batch
        rather than per record)."""
        _ok(await self._run(sql.record_results(change_id, items, _resolve_now(now))))

    async def finish_apply(
        self,
        change_id: str,
        status: FinalStatus,
        detail: str | None,
        *,
        now: datetime | None = None,
    ) -> Change:
        return _change(await self._run(_finish(change_id, status, detail, _resolve_now(now))))

    async def mark_stale(self, change_id: str, detail: str) -> Change:
        """Stale before any write (token bound to an old manifest, or a target drifted)."""
        return _change(await self._run(_stale(change_id, detail)))

    async def mark_expired(self, change_id: str) -> Change:
        return _change(await self._run(_expire(change_id)))

    async def cancel(
        self, change_id: str, principal: str, reason: str = "", *, now: datetime | None = None
    ) -> Change:
        return _change(await self._run(_cancel(change_id, principal, reason, _resolve_now(now))))

    async def expire_due(self, now: datetime | None = None) -> list[str]:
        return await self._run(sql.expire_due(_resolve_now(now)))

    async def written_refs(self, change_id: str) -> set[str]:
        return await self._run(sql.written_refs(change_id))

    async def records_proposed_since(self, requester: str, since: datetime) -> int:
        return await self._run(sql.records_since(requester, since))

    async def records_proposed_last_hour(self, requester: str, now: datetime | None = None) -> int:
        return await self.records_proposed_since(requester, _resolve_now(now) - timedelta(hours=1))

    async def link_revert(self, original_id: str, revert_id: str) -> Change:
        return _change(await self._run(sql.link(original_id, "reverted_by", revert_id)))

    async def link_finish(self, original_id: str, finish_id: str) -> Change:
        return _change(await self._run(sql.link(original_id, "finished_by", finish_id)))

    async def interrupted_ids(self) -> list[str]:
        """Changes left ``applying``: at start-up, ones a dead process was applying (see
        ``governance.recovering``)."""
        return await self._run(sql.interrupted_ids())

    async def frozen(self) -> FreezeState | None:
        return await self._run(_frozen())

    async def ensure_not_frozen(self) -> None:
        state = await self.frozen()
        if state is not None:
            raise frozen_error(state)


class ChangeStoreSync:
    """Sync store for the CLI: same operations, same transactions, a sqlite3 connection."""

    def __init__(self, conn: sqlite3.Connection, path: str | Path) -> None:
        self.path = path
        self._conn = conn

    @classmethod
    def open(cls, db_path: str | Path) -> ChangeStoreSync:
        conn = sqlite3.connect(
            str(db_path),
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            for statement in (*sql.PRAGMAS, *sql.SCHEMA):
                conn.execute(statement)
        except BaseException:
            conn.close()
            raise
        return cls(conn, db_path)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> ChangeStoreSync:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, op: sql.Op[T]) -> T:
        return run_sync(self._conn, op)

    def insert(self, change: Change) -> Change:
        return _change(self._run(sql.insert(change)))

    def get(self, change_id: str) -> Change | None:
        return self._run(sql.load(change_id))

    def require(self, change_id: str) -> Change:
        change = self.get(change_id)
        if change is None:
            raise sql.not_found(change_id)
        return change

    def list_changes(
        self,
        status: ChangeStatus | None = None,
        requester: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
    ) -> list[Change]:
        return self._run(sql.load_many(self._run(sql.list_ids(status, requester, limit))))

    def claim_for_apply(
        self, change_id: str, token_nonce: str, *, now: datetime | None = None, resume: bool = False
    ) -> Change:
        return _change(self._run(sql.claim(change_id, token_nonce, _resolve_now(now), resume)))

    def record_result(
        self,
        change_id: str,
        result: RecordResult,
        after_image: dict[str, Any],
        *,
        now: datetime | None = None,
    ) -> None:
        _ok(self._run(sql.record_result(change_id, result, after_image, _resolve_now(now))))

    def finish_apply(
        self,
        change_id: str,
        status: FinalStatus,
        detail: str | None,
        *,
        now: datetime | None = None,
    ) -> Change:
        return _change(self._run(_finish(change_id, status, detail, _resolve_now(now))))

    def mark_stale(self, change_id: str, detail: str) -> Change:
        return _change(self._run(_stale(change_id, detail)))

    def mark_expired(self, change_id: str) -> Change:
        return _change(self._run(_expire(change_id)))

    def cancel(
        self, change_id: str, principal: str, reason: str = "", *, now: datetime | None = None
    ) -> Change:
        return _change(self._run(_cancel(change_id, principal, reason, _resolve_now(now))))

    def reject(
        self,
        change_id: str,
        reviewer: str,
        reason: str,
        guard: Guard,
        *,
        now: datetime | None = None,
    ) -> Change:
        patch = _reject_patch(reviewer, reason, _resolve_now(now))
        op = sql.transition(change_id, S.REJECTED, "rejected", patch, guard=guard)
        return _change(self._run(op))

    def add_approval(
        self, change_id: str, approval: Approval, satisfied: Satisfied, guard: Guard
    ) -> Change:
        return _change(self._run(sql.add_approval(change_id, approval, satisfied, guard)))

    def expire_due(self, now: datetime | None = None) -> list[str]:
        return self._run(sql.expire_due(_resolve_now(now)))

    def written_refs(self, change_id: str) -> set[str]:
        return self._run(sql.written_refs(change_id))

    def records_proposed_since(self, requester: str, since: datetime) -> int:
        return self._run(sql.records_since(requester, since))

    def records_proposed_last_hour(self, requester: str, now: datetime | None = None) -> int:
        return self.records_proposed_since(requester, _resolve_now(now) - timedelta(hours=1))

    def frozen(self) -> FreezeState | None:
        return self._run(_frozen())


def _finish(
    change_id: str, status: ChangeStatus | str, detail: str | None, now: datetime
) -> sql.Op[sql.Done]:
    target = ChangeStatus(status)
    if target not in _FINAL:
        raise ValueError(f"an apply finishes as applied, failed or stale, not {target}")
    change = yield from sql.load(change_id)
    outcome: dict[str, Any] = {"detail": detail, "finished_at": now, "records": []}
    patch: dict[str, Any] = {"status_detail": detail}
    if change is not None:
        patch["outcome"] = change.outcome.model_copy(update=outcome)
    return (yield from sql.transition(change_id, target, str(target), patch, {S.APPLYING}))


def _stale(change_id: str, detail: str) -> sql.Op[sql.Done]:
    return sql.transition(change_id, S.STALE, "marked stale", {"status_detail": detail})


def _expire(change_id: str) -> sql.Op[sql.Done]:
    return sql.transition(change_id, S.EXPIRED, "expired", {"status_detail": "expired"})


def _cancel(change_id: str, principal: str, reason: str, now: datetime) -> sql.Op[sql.Done]:
    def only_requester(change: Change) -> GovernanceError | None:
        if change.requester == principal:
            return None
        return NotPermitted(
            f"only {change.requester}, who proposed {change_id}, may cancel it",
            details={"reason_code": "not_requester", "change_id": change_id},
        )

    patch = {"cancellation": Decision(by=principal, reason=reason, at=now)}
    return sql.transition(change_id, S.CANCELLED, "cancelled", patch, guard=only_requester)


def _frozen() -> sql.Op[FreezeState | None]:
    rows = (yield sql.Query(READ_SQL)).rows
    return state_from_row(rows[0] if rows else None)

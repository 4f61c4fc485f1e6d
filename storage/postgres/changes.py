"""Changes on PostgreSQL: one transaction per state change, safe however many replicas race.

Every write unit first locks the change's row (``SELECT … FOR UPDATE``): a racing unit in any
replica waits for the lock, then reads what the winner committed. Inside, the unit asks
``governance/change_rules`` whether the move is allowed and updates with a compare-and-set on
the status it read, exactly as on SQLite; so of eight applies racing from two processes, one
claims the change and seven are refused. The claim also locks the freeze row ``FOR SHARE`` (a
freeze waits for it, see ``freeze.py``) and spends the token's nonce in the same transaction
(``INSERT … ON CONFLICT DO NOTHING``: no row back means the nonce was spent, and the whole claim
is rolled back). The records-per-hour budget is summed and the change inserted under a
per-requester advisory lock, so two replicas cannot both pass the last of it. Per-record
results commit before the next vendor batch is written, so a replica killed mid-apply leaves an
exact account. A refusal is returned, not raised, so what the unit wrote on the way (e.g.
marking a change expired) commits first.

Who is applying a change right now is held by an advisory lock from the claim to the end of
the apply (``apply_lock.py``): start-up recovery settles only changes no live replica holds.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from mopsgate.crm.records import RecordResult
from mopsgate.governance import change_rules as rules
from mopsgate.governance.audit_chain import event_values
from mopsgate.governance.change_model import Approval, Change, ChangeStatus, Decision
from mopsgate.governance.change_rules import (
    DEFAULT_LIST_LIMIT,
    Audited,
    Done,
    FinalStatus,
    Guard,
    RecordBudget,
    Satisfied,
)
from mopsgate.governance.decision_proof import SignedDecision
from mopsgate.governance.errors import AuditUnavailable, GovernanceError
from mopsgate.governance.freeze import FreezeState, frozen_error
from mopsgate.governance.outbox import OutboxMessage
from mopsgate.storage.change_verbs import ChangeUnits, ChangeVerbs, or_now
from mopsgate.storage.errors import StorageUnavailable
from mopsgate.storage.postgres.apply_lock import ApplyLocks
from mopsgate.storage.postgres.audit import audit_unavailable, commit_rows
from mopsgate.storage.postgres.codec import jsonb
from mopsgate.storage.postgres.db import Conn, PgDb
from mopsgate.storage.postgres.freeze import read_state
from mopsgate.storage.postgres.outbox import enqueue

S = ChangeStatus

_SELECT_CHANGE = "SELECT data, status FROM changes WHERE id = %s"
_SELECT_APPROVALS = (
    "SELECT reviewer, roles, note, at, proof FROM approvals WHERE change_id = %s "
    "ORDER BY at, reviewer"
)
_SELECT_RECORDS = (
    "SELECT ref, ok, code, message, after_image, written_at FROM applied_records "
    "WHERE change_id = %s ORDER BY written_at, ref"
)
_UPDATE_STATUS = "UPDATE changes SET status = %s, data = %s WHERE id = %s AND status = %s"
_UPSERT_RESULT = (
    "INSERT INTO applied_records (change_id, ref, ok, code, message, after_image, written_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (change_id, ref) DO UPDATE "
    "SET ok = excluded.ok, code = excluded.code, message = excluded.message, "
    "after_image = excluded.after_image, written_at = excluded.written_at "
    "WHERE NOT applied_records.ok"
)
# pg_advisory_xact_lock namespace for a requester's records-per-hour budget.
_BUDGET_LOCK = (
    "SELECT pg_advisory_xact_lock(hashtextextended('mopsgate.records-per-hour:' || %s, 0))"
)


class _RollBack(Exception):
    """Raised inside a unit to roll its whole transaction back, then refuse."""

    def __init__(self, refusal: GovernanceError) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


async def load(conn: Conn, change_id: str, *, lock: bool = False) -> Change | None:
    """The change with its approvals and results; ``lock`` takes its row FOR UPDATE."""
    sql = _SELECT_CHANGE + (" FOR UPDATE" if lock else "")
    head = await (await conn.execute(sql.encode(), (change_id,))).fetchone()
    if head is None:
        return None
    data: dict[str, Any] = dict(head[0])
    data["status"] = head[1]
    approvals = await (await conn.execute(_SELECT_APPROVALS, (change_id,))).fetchall()
    data["approvals"] = [
        {"reviewer": r[0], "roles": r[1], "note": r[2], "at": r[3]}
        | ({"proof": r[4]} if r[4] is not None else {})
        for r in approvals
    ]
    records = await (await conn.execute(_SELECT_RECORDS, (change_id,))).fetchall()
    data.setdefault("outcome", {})["records"] = [
        {"ref": r[0], "ok": r[1], "code": r[2], "message": r[3], "after_image": r[4]}
        | {"written_at": r[5]}
        for r in records
    ]
    return Change.model_validate(data)


async def transition(
    conn: Conn,
    change_id: str,
    target: ChangeStatus,
    action: str,
    patch: dict[str, Any] | None = None,
    allowed: Iterable[ChangeStatus] | None = None,
    guard: Guard | None = None,
) -> Done:
    """Compare-and-set ``status -> target`` on the locked row."""
    change = await load(conn, change_id, lock=True)
    if change is None:
        return Done(refusal=rules.not_found(change_id))
    if (refusal := rules.transition_refusal(change, target, action, allowed, guard)) is not None:
        return Done(change, refusal)
    updated = change.model_copy(update={**(patch or {}), "status": target})
    args = (str(target), jsonb(rules.document(updated)), change_id, str(change.status))
    if (await conn.execute(_UPDATE_STATUS, args)).rowcount != 1:
        return Done(change, rules.status_refusal(change, change.status, action))
    return Done(await load(conn, change_id))


async def _records_since(conn: Conn, requester: str, since: datetime) -> int:
    cur = await conn.execute(
        "SELECT COALESCE(SUM(n_records), 0) FROM changes WHERE requester = %s AND created_at >= %s",
        (requester, since),
    )
    row = await cur.fetchone()
    return int(row[0]) if row is not None else 0


async def _insert(
    conn: Conn, change: Change, budget: RecordBudget | None, notify: Sequence[OutboxMessage]
) -> Done:
    if change.status is not S.PROPOSED or change.approvals or change.outcome.records:
        raise ValueError("only a fresh proposed change, without approvals or results, is stored")
    if budget is not None:
        await conn.execute(_BUDGET_LOCK, (change.requester,))
        refusal = budget.refusal(await _records_since(conn, change.requester, budget.since))
        if refusal is not None:
            return Done(refusal=refusal)
    await conn.execute(
        "INSERT INTO changes (id, status, requester, created_at, expires_at, n_records, data) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (
            change.id,
            str(change.status),
            change.requester,
            change.created_at,
            change.expires_at,
            len(change.plan.records),
            jsonb(rules.document(change)),
        ),
    )
    await enqueue(conn, notify, change.created_at)
    return Done(change)


async def _claim(conn: Conn, change_id: str, nonce: str, now: datetime, resume: bool) -> Done:
    """approved (or failed, when resuming) -> applying, exactly once, with the nonce spent in
    the same transaction; freeze and expiry are read inside it, so nothing slips between."""
    frozen = await read_state(conn, lock="FOR SHARE")
    if frozen is not None:
        return Done(refusal=frozen_error(frozen))
    change = await load(conn, change_id, lock=True)
    if change is None:
        return Done(refusal=rules.not_found(change_id))
    spent = await conn.execute("SELECT 1 FROM used_nonces WHERE nonce = %s", (nonce,))
    if await spent.fetchone() is not None:
        return Done(refusal=rules.replayed(change_id))
    if change.status is S.APPROVED and change.is_expired(now):
        done = await transition(conn, change_id, S.EXPIRED, "applied", {"status_detail": "expired"})
        return Done(done.change, rules.status_refusal(change, S.EXPIRED, "applied"))
    allowed = {S.APPROVED, S.FAILED} if resume else {S.APPROVED}
    done = await transition(conn, change_id, S.APPLYING, "applied", allowed=allowed)
    if done.refusal is None:
        cur = await conn.execute(
            "INSERT INTO used_nonces (nonce, change_id, used_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (nonce) DO NOTHING RETURNING nonce",
            (nonce, change_id, now),
        )
        if await cur.fetchone() is None:
            raise _RollBack(rules.replayed(change_id))
    return done


async def _busy(conn: Conn, change_id: str, nonce: str) -> GovernanceError:
    """Why a claim is refused while another process holds the change's apply lock: the same
    refusal, in the same order, as the claim itself would give once that process is done."""
    frozen = await read_state(conn)
    if frozen is not None:
        return frozen_error(frozen)
    change = await load(conn, change_id)
    if change is None:
        return rules.not_found(change_id)
    spent = await conn.execute("SELECT 1 FROM used_nonces WHERE nonce = %s", (nonce,))
    if await spent.fetchone() is not None:
        return rules.replayed(change_id)
    busy = S.APPLYING if change.status in (S.APPROVED, S.FAILED) else change.status
    return rules.status_refusal(change, busy, "applied")


async def _record_results(
    conn: Conn, change_id: str, items: Sequence[tuple[RecordResult, dict[str, Any]]], now: datetime
) -> Done:
    """One vendor batch's outcomes in one transaction. A record already written successfully
    can never be recorded (or written) again."""
    cur = await conn.execute("SELECT status FROM changes WHERE id = %s FOR UPDATE", (change_id,))
    row = await cur.fetchone()
    if row is None:
        return Done(refusal=rules.not_found(change_id))
    if row[0] != S.APPLYING:
        return Done(refusal=rules.not_applying(change_id, row[0]))
    for result, after_image in items:
        args = (
            change_id,
            result.ref,
            result.ok,
            result.code,
            result.message,
            jsonb(after_image),
            now,
        )
        if (await conn.execute(_UPSERT_RESULT, args)).rowcount != 1:
            return Done(refusal=rules.written_twice(change_id, result.ref))
    return Done()


async def _finish(
    conn: Conn, change_id: str, status: FinalStatus, detail: str | None, now: datetime
) -> Done:
    target = rules.final_status(status)
    change = await load(conn, change_id, lock=True)
    patch: dict[str, Any] = {"status_detail": detail}
    if change is not None:
        outcome: dict[str, Any] = {"detail": detail, "finished_at": now, "records": []}
        patch["outcome"] = change.outcome.model_copy(update=outcome)
    return await transition(conn, change_id, target, str(target), patch, {S.APPLYING})


async def _add_approval(
    conn: Conn,
    change_id: str,
    approval: Approval,
    satisfied: Satisfied,
    guard: Guard,
    notify: Sequence[OutboxMessage],
    audit: Audited | None = None,
) -> Done:
    """Record one approval and, if the set is now complete, move proposed -> approved, in one
    transaction on the locked row: two reviewers approving at once in two replicas cannot
    leave a complete set unpromoted."""
    change = await load(conn, change_id, lock=True)
    if change is None:
        return Done(refusal=rules.not_found(change_id))
    if change.status is not S.PROPOSED:
        return Done(change, rules.status_refusal(change, change.status, "approved"))
    if (refusal := guard(change)) is not None:
        return Done(change, refusal)
    if any(a.reviewer == approval.reviewer for a in change.approvals):
        return Done(change, rules.approved_twice(change, approval.reviewer))
    proof = None if approval.proof is None else jsonb(approval.proof.model_dump(mode="json"))
    await conn.execute(
        "INSERT INTO approvals (change_id, reviewer, roles, note, at, proof) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (change_id, approval.reviewer, jsonb(approval.roles), approval.note, approval.at, proof),
    )
    if satisfied([*change.approvals, approval]):
        done = await transition(conn, change_id, S.APPROVED, "approved", allowed={S.PROPOSED})
        if done.refusal is not None:
            return done
    await enqueue(conn, notify, approval.at)
    return await _audited(conn, Done(await load(conn, change_id)), audit)


async def _audited(conn: Conn, done: Done, audit: Audited | None) -> Done:
    """Chain the decision's audit row in its own transaction (a failure rolls both back)."""
    if audit is not None and done.refusal is None and done.change is not None:
        await commit_rows(conn, [event_values(audit(done.change))], ())
    return done


async def _reject(
    conn: Conn,
    change_id: str,
    reviewer: str,
    reason: str,
    guard: Guard,
    now: datetime,
    notify: Sequence[OutboxMessage],
    proof: SignedDecision | None,
    audit: Audited | None = None,
) -> Done:
    rejection = Decision(by=reviewer, reason=reason, at=now, proof=proof)
    patch = {"rejection": rejection, "status_detail": reason}
    done = await transition(conn, change_id, S.REJECTED, "rejected", patch, guard=guard)
    if done.refusal is None:
        await enqueue(conn, notify, now)
    return await _audited(conn, done, audit)


async def _expire_due(conn: Conn, now: datetime) -> list[str]:
    cur = await conn.execute(
        "SELECT id FROM changes WHERE status IN (%s, %s) AND expires_at <= %s ORDER BY id",
        (str(S.PROPOSED), str(S.APPROVED), now),
    )
    expired = []
    for (change_id,) in await cur.fetchall():
        done = await transition(conn, change_id, S.EXPIRED, "expired", {"status_detail": "expired"})
        if done.refusal is None:
            expired.append(change_id)
    return expired


async def _list(conn: Conn, status: str | None, requester: str | None, limit: int) -> list[Change]:
    cur = await conn.execute(
        "SELECT id FROM changes WHERE (%s::text IS NULL OR status = %s) "
        "AND (%s::text IS NULL OR requester = %s) ORDER BY created_at DESC, id LIMIT %s",
        (status, status, requester, requester, limit),
    )
    found = [await load(conn, row[0]) for row in await cur.fetchall()]
    return [c for c in found if c is not None]


async def _written_refs(conn: Conn, change_id: str) -> set[str]:
    cur = await conn.execute(
        "SELECT ref FROM applied_records WHERE change_id = %s AND ok", (change_id,)
    )
    return {row[0] for row in await cur.fetchall()}


async def _interrupted_ids(conn: Conn) -> list[str]:
    cur = await conn.execute(
        "SELECT id FROM changes WHERE status = %s ORDER BY id", (str(S.APPLYING),)
    )
    return [row[0] for row in await cur.fetchall()]


async def _link(conn: Conn, original_id: str, field: str, follow_up_id: str) -> Done:
    """Point ``original`` at the change that follows it up (``reverted_by``, ``finished_by``)."""
    change = await load(conn, original_id, lock=True)
    if change is None:
        return Done(refusal=rules.not_found(original_id))
    updated = change.model_copy(update={field: follow_up_id})
    await conn.execute(
        "UPDATE changes SET data = %s WHERE id = %s",
        (jsonb(rules.document(updated)), original_id),
    )
    return Done(updated)


PG_UNITS = ChangeUnits(
    transition=transition, add_approval=_add_approval, reject=_reject, link=_link
)


class PgChangeStore(ChangeVerbs):
    """The :class:`~mopsgate.governance.ports.ChangeStore` for PostgreSQL."""

    _units = PG_UNITS

    def __init__(self, db: PgDb) -> None:
        self._db = db
        self._locks = ApplyLocks(db)

    async def _done(self, unit: partial[Any]) -> Done:
        try:
            done: Done = await self._db.write(unit)
        except _RollBack as exc:
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
    ) -> Change:
        return await self._write(partial(_insert, change=change, budget=budget, notify=notify))

    async def get(self, change_id: str) -> Change | None:
        return await self._db.read(partial(load, change_id=change_id))

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
        unit = partial(_list, status=status_text, requester=requester, limit=limit)
        return await self._db.read(unit)

    async def claim_for_apply(
        self, change_id: str, token_nonce: str, *, now: datetime | None = None, resume: bool = False
    ) -> Change:
        """Take the change's apply lock, then claim; the lock stays held until the apply ends
        (:meth:`finish_apply`, or a failed write of its results). A change whose lock another
        process holds is being applied (or settled) right now, and is refused as applying."""
        if not await self._locks.take(change_id):
            raise await self._db.read(partial(_busy, change_id=change_id, nonce=token_nonce))
        unit = partial(_claim, change_id=change_id, nonce=token_nonce, now=or_now(now))
        try:
            return await self._write(partial(unit, resume=resume))
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
        unit = partial(_record_results, change_id=change_id, items=items, now=or_now(now))
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
        unit = partial(_finish, change_id=change_id, status=status, detail=detail)
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
        return await self._db.write(partial(_expire_due, now=or_now(now)))

    async def written_refs(self, change_id: str) -> set[str]:
        return await self._db.read(partial(_written_refs, change_id=change_id))

    async def records_proposed_since(self, requester: str, since: datetime) -> int:
        return await self._db.read(partial(_records_since, requester=requester, since=since))

    async def interrupted_ids(self) -> list[str]:
        """Changes left ``applying`` by a process that is gone: those whose apply lock this
        process can take (a change a live replica is still applying is left alone). Each lock
        is held until the change is settled (:meth:`finish_apply`) or this store closes."""
        found = []
        for change_id in await self._db.read(_interrupted_ids):
            if not await self._locks.take(change_id):
                continue
            current = await self.get(change_id)
            if current is not None and current.status is S.APPLYING:
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

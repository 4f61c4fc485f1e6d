"""The write units of changes on PostgreSQL: one transaction per state change, safe however
many replicas race.

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
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from mopsgate.crm.records import RecordResult
from mopsgate.governance import change_rules as rules
from mopsgate.governance.audit_chain import event_values
from mopsgate.governance.change_model import Approval, Change, ChangeStatus, Decision
from mopsgate.governance.change_rules import (
    Audited,
    Done,
    FinalStatus,
    Guard,
    RecordBudget,
    Satisfied,
)
from mopsgate.governance.decision_proof import SignedDecision
from mopsgate.governance.errors import GovernanceError
from mopsgate.governance.freeze import frozen_error
from mopsgate.governance.outbox import OutboxMessage
from mopsgate.storage.change_verbs import ChangeUnits
from mopsgate.storage.postgres.audit import LOCK_HEAD_SQL, check_appendable, commit_rows
from mopsgate.storage.postgres.change_rows import (
    AWAITS_ROW,
    load,
    records_since,
    transition,
    unaudited,
)
from mopsgate.storage.postgres.codec import jsonb
from mopsgate.storage.postgres.db import Conn
from mopsgate.storage.postgres.freeze import read_state
from mopsgate.storage.postgres.outbox import enqueue

S = ChangeStatus
SYSTEM = "(system)"

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


class AuditBlocked(Exception):
    """Raised inside a unit when the audit log would not take the row its result needs: the
    whole transaction rolls back, and the caller is told the audit log is unavailable."""

    def __init__(self, cause: psycopg.Error) -> None:
        super().__init__(str(cause))
        self.cause = cause


class RollBack(Exception):
    """Raised inside a unit to roll its whole transaction back, then refuse."""

    def __init__(self, refusal: GovernanceError) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


async def insert(
    conn: Conn,
    change: Change,
    budget: RecordBudget | None,
    notify: Sequence[OutboxMessage],
    audited_after: bool = False,
) -> Done:
    if change.status is not S.PROPOSED or change.approvals or change.outcome.records:
        raise ValueError("only a fresh proposed change, without approvals or results, is stored")
    if budget is not None:
        await conn.execute(_BUDGET_LOCK, (change.requester,))
        refusal = budget.refusal(await records_since(conn, change.requester, budget.since))
        if refusal is not None:
            return Done(refusal=refusal)
    # The proposal's audit row is written after this commits (by the pipeline, with the call's
    # outcome): a change stored while the audit log refuses rows would stay in the queue for a
    # call refused as unaudited. Checked in this transaction, before anything is written, but
    # after the budget lock: the check holds a lock on the chain's head until this commits, and
    # taken while waiting for another proposal of the same requester it would hold up every
    # replica's audit rows for that wait. The writer never takes the budget lock, so the order
    # makes no cycle.
    await check_appendable(conn)
    document = rules.document(change) | ({AWAITS_ROW: True} if audited_after else {})
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
            jsonb(document),
        ),
    )
    await enqueue(conn, notify, change.created_at)
    return Done(change)


async def claim(conn: Conn, change_id: str, nonce: str, now: datetime, resume: bool) -> Done:
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
            raise RollBack(rules.replayed(change_id))
        # The apply's own audit row is written once it has written to the vendor; the intent
        # row before it does not count the call, so it commits where that row (which does)
        # would not. Checked here, after the change's row lock (the order every audited unit
        # takes), so a log that would refuse the row rolls the claim back: nothing is written
        # to the vendor, the token stays unspent and the change approved.
        try:
            await check_appendable(conn)
        except psycopg.Error as exc:
            raise AuditBlocked(exc) from exc
    return done


async def busy(conn: Conn, change_id: str, nonce: str) -> GovernanceError:
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


async def record_results(
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


async def finish(
    conn: Conn, change_id: str, status: FinalStatus, detail: str | None, now: datetime
) -> Done:
    target = rules.final_status(status)
    change = await load(conn, change_id, lock=True)
    patch: dict[str, Any] = {"status_detail": detail}
    if change is not None:
        outcome: dict[str, Any] = {"detail": detail, "finished_at": now, "records": []}
        patch["outcome"] = change.outcome.model_copy(update=outcome)
    return await transition(conn, change_id, target, str(target), patch, {S.APPLYING})


async def add_approval(
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
    if await unaudited(conn, change_id):  # nothing on record asked for it
        return await _not_on_record(conn, change_id)
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
    return await audited(conn, Done(await load(conn, change_id)), audit)


async def _not_on_record(conn: Conn, change_id: str) -> Done:
    """The refusal of a decision on a change whose proposing call's row is not in the log."""
    from mopsgate.governance.recovering import not_in_audit_log

    change = await load(conn, change_id)
    assert change is not None
    return Done(change, not_in_audit_log(change))


async def audited(conn: Conn, done: Done, audit: Audited | None) -> Done:
    """Chain the decision's audit row in its own transaction (a failure rolls both back)."""
    if audit is not None and done.refusal is None and done.change is not None:
        await commit_rows(conn, [event_values(audit(done.change))], ())
    return done


async def reject(
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
    if await unaudited(conn, change_id):  # checked unlocked: the commit of its row may wait
        return await _not_on_record(conn, change_id)
    rejection = Decision(by=reviewer, reason=reason, at=now, proof=proof)
    patch = {"rejection": rejection, "status_detail": reason}
    done = await transition(conn, change_id, S.REJECTED, "rejected", patch, guard=guard)
    if done.refusal is None:
        await enqueue(conn, notify, now)
    return await audited(conn, done, audit)


async def withdraw(
    conn: Conn, change_id: str, reason: str, now: datetime, audit: Audited | None
) -> Done:
    """proposed -> cancelled, withdrawn for ``reason``, with ``audit``'s row, if the change is
    :func:`unaudited`; an empty Done (nothing withdrawn) otherwise. Locks the chain's head
    first, then the change, in the order of the commit that takes the change's mark off: a
    proposal's row committing meanwhile is waited for, never deadlocked with."""
    if not await unaudited(conn, change_id):  # on record (a mark is only ever taken off)
        return Done()
    await conn.execute(LOCK_HEAD_SQL)
    change = await load(conn, change_id, lock=True)
    if change is None or change.status is not S.PROPOSED or not await unaudited(conn, change_id):
        return Done()
    patch = {
        "cancellation": Decision(by=SYSTEM, reason=reason, at=now),
        "status_detail": f"withdrawn: {reason}",
    }
    done = await transition(conn, change_id, S.CANCELLED, "withdrawn", patch, {S.PROPOSED})
    return await audited(conn, done, audit)


async def expire_due(conn: Conn, now: datetime) -> list[str]:
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


async def link(conn: Conn, original_id: str, field: str, follow_up_id: str) -> Done:
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


PG_UNITS = ChangeUnits(transition=transition, add_approval=add_approval, reject=reject, link=link)

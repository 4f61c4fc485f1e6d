"""Changes on SQLite: one ``BEGIN IMMEDIATE`` unit per state change, on the ``state`` connection.

Every transition is a compare-and-set that exactly one of two racing callers (tasks, threads or
processes) can win: the unit reads the change, asks ``governance/change_rules`` whether the move
is allowed, and updates ``WHERE id = ? AND status = <the status it read>``. The write lock is
held from the first statement, so nothing interleaves. Per-record results commit with
``synchronous=FULL`` before the next vendor batch is written, so a crash mid-apply leaves an
exact account. A unit returns its refusal instead of raising it, so what it wrote on the way
(e.g. marking a change expired) commits first. Reads run on the query-only ``read`` connection.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from mopsgate.crm.records import RecordResult
from mopsgate.governance import change_rules as rules
from mopsgate.governance.audit_chain import event_values
from mopsgate.governance.change_model import (
    AppliedRecord,
    Approval,
    Change,
    ChangeStatus,
    Decision,
)
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
from mopsgate.governance.errors import AuditUnavailable
from mopsgate.governance.freeze import FreezeState, frozen_error
from mopsgate.governance.outbox import OutboxMessage
from mopsgate.storage.change_verbs import ChangeUnits, ChangeVerbs, or_now
from mopsgate.storage.errors import StorageUnavailable
from mopsgate.storage.sqlite.audit import commit_rows, unavailable
from mopsgate.storage.sqlite.codec import to_json, ts
from mopsgate.storage.sqlite.db import SqliteDb
from mopsgate.storage.sqlite.freeze import read_state
from mopsgate.storage.sqlite.outbox import enqueue

S = ChangeStatus
INTERRUPTED = "interrupted: the process stopped mid-apply; the outcome lists what was written"

_SELECT_CHANGE = "SELECT data, status FROM changes WHERE id = ?"
_SELECT_APPROVALS = (
    "SELECT reviewer, roles, note, at, proof FROM approvals WHERE change_id = ? "
    "ORDER BY at, reviewer"
)
_SELECT_RECORDS = (
    "SELECT ref, ok, code, message, after_image, written_at FROM applied_records "
    "WHERE change_id = ? ORDER BY written_at, ref"
)
_UPDATE_STATUS = "UPDATE changes SET status = ?, data = ? WHERE id = ? AND status = ?"
_UPSERT_RESULT = (
    "INSERT INTO applied_records (change_id, ref, ok, code, message, after_image, written_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (change_id, ref) DO UPDATE "
    "SET ok = excluded.ok, code = excluded.code, message = excluded.message, "
    "after_image = excluded.after_image, written_at = excluded.written_at "
    "WHERE applied_records.ok = 0"
)


# The key a change stored ``audited_after`` (a proposal's, whose call writes its audit row once
# the change is stored) carries in its document, read by the SQL only: its first transition
# rewrites the document without it, and every move out of proposed is final but an approval,
# which checks the log first. Whether the log holds the proposing call's row is read from it.
AWAITS_ROW = "awaits_proposal_row"
_SELECT_UNAUDITED = (
    "SELECT 1 FROM changes c WHERE c.id = ? "
    "AND json_extract(c.data, '$.awaits_proposal_row') IS NOT NULL "
    "AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.change_id = c.id "
    "AND a.kind = 'tool_call' AND a.tool = json_extract(c.data, '$.tool'))"
)
_UNAUDITED_IDS = (
    "SELECT c.id FROM changes c WHERE c.status = ? AND c.created_at < ? "
    "AND json_extract(c.data, '$.awaits_proposal_row') IS NOT NULL "
    "AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.change_id = c.id "
    "AND a.kind = 'tool_call' AND a.tool = json_extract(c.data, '$.tool')) "
    "ORDER BY c.created_at, c.id"
)


def _stored(change: Change, awaits_row: bool = False) -> str:
    document = rules.document(change) | ({AWAITS_ROW: True} if awaits_row else {})
    return json.dumps(document, sort_keys=True, ensure_ascii=False)


def load(conn: sqlite3.Connection, change_id: str) -> Change | None:
    head = conn.execute(_SELECT_CHANGE, (change_id,)).fetchone()
    if head is None:
        return None
    data = json.loads(head[0])
    data.pop(AWAITS_ROW, None)
    data["status"] = head[1]
    data["approvals"] = [
        {"reviewer": r[0], "roles": json.loads(r[1]), "note": r[2], "at": r[3]}
        | ({"proof": json.loads(r[4])} if r[4] is not None else {})
        for r in conn.execute(_SELECT_APPROVALS, (change_id,))
    ]
    data.setdefault("outcome", {})["records"] = [
        AppliedRecord(
            ref=r[0],
            ok=bool(r[1]),
            code=r[2],
            message=r[3],
            after_image=json.loads(r[4]),
            written_at=r[5],
        ).model_dump()
        for r in conn.execute(_SELECT_RECORDS, (change_id,))
    ]
    return Change.model_validate(data)


def _load_many(conn: sqlite3.Connection, ids: Iterable[str]) -> list[Change]:
    return [c for c in (load(conn, i) for i in ids) if c is not None]


def transition(
    conn: sqlite3.Connection,
    change_id: str,
    target: ChangeStatus,
    action: str,
    patch: dict[str, Any] | None = None,
    allowed: Iterable[ChangeStatus] | None = None,
    guard: Guard | None = None,
) -> Done:
    """Compare-and-set ``status -> target``."""
    change = load(conn, change_id)
    if change is None:
        return Done(refusal=rules.not_found(change_id))
    if (refusal := rules.transition_refusal(change, target, action, allowed, guard)) is not None:
        return Done(change, refusal)
    updated = change.model_copy(update={**(patch or {}), "status": target})
    args = (str(target), _stored(updated), change_id, str(change.status))
    if conn.execute(_UPDATE_STATUS, args).rowcount != 1:
        return Done(change, rules.status_refusal(change, change.status, action))
    return Done(load(conn, change_id))


def _records_since(conn: sqlite3.Connection, requester: str, since: datetime) -> int:
    row = conn.execute(
        "SELECT COALESCE(SUM(n_records), 0) FROM changes WHERE requester = ? AND created_at >= ?",
        (requester, ts(since)),
    ).fetchone()
    return int(row[0])


def _unaudited(conn: sqlite3.Connection, change_id: str) -> bool:
    """Whether the change was stored ``audited_after`` and the audit log holds no row of the
    call that proposed it."""
    return conn.execute(_SELECT_UNAUDITED, (change_id,)).fetchone() is not None


def _unaudited_ids(conn: sqlite3.Connection, created_before: datetime) -> list[str]:
    rows = conn.execute(_UNAUDITED_IDS, (str(S.PROPOSED), ts(created_before)))
    return [row[0] for row in rows]


def _withdraw(
    conn: sqlite3.Connection, change_id: str, reason: str, now: datetime, audit: Audited | None
) -> Done:
    """proposed -> cancelled, withdrawn for ``reason``, with ``audit``'s row, if the change is
    unaudited; an empty Done (nothing withdrawn) otherwise."""
    change = load(conn, change_id)
    if change is None or change.status is not S.PROPOSED or not _unaudited(conn, change_id):
        return Done()
    patch = {
        "cancellation": Decision(by="(system)", reason=reason, at=now),
        "status_detail": f"withdrawn: {reason}",
    }
    done = transition(conn, change_id, S.CANCELLED, "withdrawn", patch, {S.PROPOSED})
    return _audited(conn, done, audit)


def _insert(
    conn: sqlite3.Connection,
    change: Change,
    budget: RecordBudget | None,
    notify: Sequence[OutboxMessage],
    audited_after: bool = False,
) -> Done:
    if change.status is not S.PROPOSED or change.approvals or change.outcome.records:
        raise ValueError("only a fresh proposed change, without approvals or results, is stored")
    if budget is not None:
        refusal = budget.refusal(_records_since(conn, change.requester, budget.since))
        if refusal is not None:
            return Done(refusal=refusal)
    conn.execute(
        "INSERT INTO changes (id, status, requester, created_at, expires_at, n_records, data) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            change.id,
            str(change.status),
            change.requester,
            ts(change.created_at),
            ts(change.expires_at),
            len(change.plan.records),
            _stored(change, awaits_row=audited_after),
        ),
    )
    enqueue(conn, notify, change.created_at)
    return Done(change)


def _claim(
    conn: sqlite3.Connection, change_id: str, nonce: str, now: datetime, resume: bool
) -> Done:
    """approved (or failed, when resuming) -> applying, exactly once, with the nonce spent in
    the same transaction; freeze and expiry are read inside it, so nothing slips between."""
    frozen = read_state(conn)
    if frozen is not None:
        return Done(refusal=frozen_error(frozen))
    if conn.execute("SELECT 1 FROM used_nonces WHERE nonce = ?", (nonce,)).fetchone():
        return Done(refusal=rules.replayed(change_id))
    change = load(conn, change_id)
    if change is None:
        return Done(refusal=rules.not_found(change_id))
    if change.status is S.APPROVED and change.is_expired(now):
        done = transition(conn, change_id, S.EXPIRED, "applied", {"status_detail": "expired"})
        return Done(done.change, rules.status_refusal(change, S.EXPIRED, "applied"))
    allowed = {S.APPROVED, S.FAILED} if resume else {S.APPROVED}
    done = transition(conn, change_id, S.APPLYING, "applied", allowed=allowed)
    if done.refusal is None:
        conn.execute(
            "INSERT INTO used_nonces (nonce, change_id, used_at) VALUES (?, ?, ?)",
            (nonce, change_id, ts(now)),
        )
    return done


def _record_results(
    conn: sqlite3.Connection,
    change_id: str,
    items: Sequence[tuple[RecordResult, dict[str, Any]]],
    now: datetime,
) -> Done:
    """One vendor batch's outcomes in one transaction. A record already written successfully
    can never be recorded (or written) again."""
    row = conn.execute("SELECT status FROM changes WHERE id = ?", (change_id,)).fetchone()
    if row is None:
        return Done(refusal=rules.not_found(change_id))
    if row[0] != S.APPLYING:
        return Done(refusal=rules.not_applying(change_id, row[0]))
    for result, after_image in items:
        args = (
            change_id,
            result.ref,
            int(result.ok),
            result.code,
            result.message,
            json.dumps(after_image, sort_keys=True, ensure_ascii=False, default=str),
            ts(now),
        )
        if conn.execute(_UPSERT_RESULT, args).rowcount != 1:
            return Done(refusal=rules.written_twice(change_id, result.ref))
    return Done()


def _finish(
    conn: sqlite3.Connection, change_id: str, status: FinalStatus, detail: str | None, now: datetime
) -> Done:
    target = rules.final_status(status)
    change = load(conn, change_id)
    patch: dict[str, Any] = {"status_detail": detail}
    if change is not None:
        outcome: dict[str, Any] = {"detail": detail, "finished_at": now, "records": []}
        patch["outcome"] = change.outcome.model_copy(update=outcome)
    return transition(conn, change_id, target, str(target), patch, {S.APPLYING})


def _add_approval(
    conn: sqlite3.Connection,
    change_id: str,
    approval: Approval,
    satisfied: Satisfied,
    guard: Guard,
    notify: Sequence[OutboxMessage],
    audit: Audited | None = None,
) -> Done:
    """Record one approval and, if the set is now complete, move proposed -> approved, in one
    transaction: two reviewers approving at once cannot leave a complete set unpromoted."""
    change = load(conn, change_id)
    if change is None:
        return Done(refusal=rules.not_found(change_id))
    if change.status is not S.PROPOSED:
        return Done(change, rules.status_refusal(change, change.status, "approved"))
    if _unaudited(conn, change_id):  # nothing on record asked for it
        return _not_on_record(change)
    if (refusal := guard(change)) is not None:
        return Done(change, refusal)
    if any(a.reviewer == approval.reviewer for a in change.approvals):
        return Done(change, rules.approved_twice(change, approval.reviewer))
    proof = None if approval.proof is None else to_json(approval.proof.model_dump(mode="json"))
    conn.execute(
        "INSERT INTO approvals (change_id, reviewer, roles, note, at, proof) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            change_id,
            approval.reviewer,
            to_json(approval.roles),
            approval.note,
            ts(approval.at),
            proof,
        ),
    )
    if satisfied([*change.approvals, approval]):
        done = transition(conn, change_id, S.APPROVED, "approved", allowed={S.PROPOSED})
        if done.refusal is not None:
            return done
    enqueue(conn, notify, approval.at)
    return _audited(conn, Done(load(conn, change_id)), audit)


def _not_on_record(change: Change) -> Done:
    """The refusal of a decision on a change whose proposing call's row is not in the log."""
    from mopsgate.governance.recovering import not_in_audit_log

    return Done(change, not_in_audit_log(change))


def _audited(conn: sqlite3.Connection, done: Done, audit: Audited | None) -> Done:
    """Chain the decision's audit row in its own transaction (a failure rolls both back)."""
    if audit is not None and done.refusal is None and done.change is not None:
        commit_rows(conn, [event_values(audit(done.change))])
    return done


def _reject(
    conn: sqlite3.Connection,
    change_id: str,
    reviewer: str,
    reason: str,
    guard: Guard,
    now: datetime,
    notify: Sequence[OutboxMessage],
    proof: SignedDecision | None,
    audit: Audited | None = None,
) -> Done:
    if _unaudited(conn, change_id) and (change := load(conn, change_id)) is not None:
        return _not_on_record(change)
    rejection = Decision(by=reviewer, reason=reason, at=now, proof=proof)
    patch = {"rejection": rejection, "status_detail": reason}
    done = transition(conn, change_id, S.REJECTED, "rejected", patch, guard=guard)
    if done.refusal is None:
        enqueue(conn, notify, now)
    return _audited(conn, done, audit)


def _expire_due(conn: sqlite3.Connection, now: datetime) -> list[str]:
    due = conn.execute(
        "SELECT id FROM changes WHERE status IN (?, ?) AND expires_at <= ? ORDER BY id",
        (str(S.PROPOSED), str(S.APPROVED), ts(now)),
    ).fetchall()
    patch = {"status_detail": "expired"}
    return [
        change_id
        for (change_id,) in due
        if transition(conn, change_id, S.EXPIRED, "expired", patch).refusal is None
    ]


def _list_ids(
    conn: sqlite3.Connection, status: ChangeStatus | None, requester: str | None, limit: int
) -> list[Change]:
    where, params = [], []
    if status is not None:
        where.append("status = ?")
        params.append(str(status))
    if requester is not None:
        where.append("requester = ?")
        params.append(requester)
    # Only the fixed fragments above are joined; every value goes through a placeholder.
    sql = "SELECT id FROM changes" + (" WHERE " + " AND ".join(where) if where else "")  # noqa: S608
    rows = conn.execute(sql + " ORDER BY created_at DESC, id LIMIT ?", (*params, limit))
    return _load_many(conn, [row[0] for row in rows.fetchall()])


def _written_refs(conn: sqlite3.Connection, change_id: str) -> set[str]:
    rows = conn.execute(
        "SELECT ref FROM applied_records WHERE change_id = ? AND ok = 1", (change_id,)
    )
    return {row[0] for row in rows}


def _interrupted_ids(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute("SELECT id FROM changes WHERE status = ? ORDER BY id", (str(S.APPLYING),))
    return [row[0] for row in rows]


def _link(conn: sqlite3.Connection, original_id: str, field: str, follow_up_id: str) -> Done:
    """Point ``original`` at the change that follows it up (``reverted_by``, ``finished_by``)."""
    change = load(conn, original_id)
    if change is None:
        return Done(refusal=rules.not_found(original_id))
    updated = change.model_copy(update={field: follow_up_id})
    conn.execute("UPDATE changes SET data = ? WHERE id = ?", (_stored(updated), original_id))
    return Done(updated)


SQLITE_UNITS = ChangeUnits(
    transition=transition, add_approval=_add_approval, reject=_reject, link=_link
)


class SqliteChangeStore(ChangeVerbs):
    """The :class:`~mopsgate.governance.ports.ChangeStore` for SQLite."""

    _units = SQLITE_UNITS

    def __init__(self, state: SqliteDb, read: SqliteDb) -> None:
        self._state = state
        self._read = read

    async def _write(self, unit: partial[Done]) -> Change:
        done: Done = await self._state.write(unit)
        return done.result()

    def _audit_unavailable(self, exc: StorageUnavailable) -> AuditUnavailable:
        return unavailable(self._state.path, exc)

    async def insert(
        self,
        change: Change,
        *,
        budget: RecordBudget | None = None,
        notify: Sequence[OutboxMessage] = (),
        audited_after: bool = False,
    ) -> Change:
        unit = partial(_insert, change=change, budget=budget, notify=notify)
        return await self._write(partial(unit, audited_after=audited_after))

    async def withdraw_unaudited(
        self, change_id: str, reason: str, audit: Audited, *, now: datetime | None = None
    ) -> Change | None:
        unit = partial(_withdraw, change_id=change_id, reason=reason, now=or_now(now))
        try:
            done: Done = await self._state.write(partial(unit, audit=audit))
        except StorageUnavailable as exc:
            raise self._audit_unavailable(exc) from exc
        return None if done.change is None and done.refusal is None else done.result()

    async def unaudited_ids(self, created_before: datetime) -> list[str]:
        return await self._read.read(partial(_unaudited_ids, created_before=created_before))

    async def get(self, change_id: str) -> Change | None:
        return await self._read.read(partial(load, change_id=change_id))

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
        unit = partial(_list_ids, status=status, requester=requester, limit=limit)
        return await self._read.read(unit)

    async def claim_for_apply(
        self, change_id: str, token_nonce: str, *, now: datetime | None = None, resume: bool = False
    ) -> Change:
        unit = partial(_claim, change_id=change_id, nonce=token_nonce, now=or_now(now))
        return await self._write(partial(unit, resume=resume))

    async def record_results(
        self,
        change_id: str,
        items: Sequence[tuple[RecordResult, dict[str, Any]]],
        *,
        now: datetime | None = None,
    ) -> None:
        unit = partial(_record_results, change_id=change_id, items=items, now=or_now(now))
        done: Done = await self._state.write(unit)
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
        return await self._write(partial(unit, now=or_now(now)))

    async def end_apply(self, change_id: str) -> None:
        """Nothing to let go: one process serves a SQLite file, and its start-up recovery
        settles every change left ``applying``."""

    async def expire_due(self, now: datetime | None = None) -> list[str]:
        return await self._state.write(partial(_expire_due, now=or_now(now)))

    async def written_refs(self, change_id: str) -> set[str]:
        return await self._read.read(partial(_written_refs, change_id=change_id))

    async def records_proposed_since(self, requester: str, since: datetime) -> int:
        return await self._read.read(partial(_records_since, requester=requester, since=since))

    async def interrupted_ids(self) -> list[str]:
        """Changes left ``applying``: at start-up, ones a dead process was applying (see
        ``governance/recovering.py``)."""
        return await self._read.read(_interrupted_ids)

    async def frozen(self) -> FreezeState | None:
        """Read fresh every time, never cached: a freeze from another process is seen by the
        very next call."""
        return await self._read.read(read_state)

    async def ensure_not_frozen(self) -> None:
        state = await self.frozen()
        if state is not None:
            raise frozen_error(state)

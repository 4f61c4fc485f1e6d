"""The SQL and the transaction logic of the change store, written once for both drivers.

Each operation is a generator that yields :class:`Query` objects and receives :class:`Result`s
(a "sans-IO" design): the async server driver (aiosqlite) and the sync CLI driver (sqlite3) run
the very same code inside ``BEGIN IMMEDIATE … COMMIT``, so the compare-and-set rules cannot drift
apart between the two. An operation never raises a refusal itself: it returns it, so anything it
wrote on the way (e.g. marking a change expired) is committed before the caller raises.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from mopsgate.connectors.model import RecordResult
from mopsgate.governance.change_model import (
    AppliedRecord,
    Approval,
    Change,
    ChangeStatus,
    sources_of,
)
from mopsgate.governance.errors import (
    ChangeRefused,
    GovernanceError,
    NotFound,
    NotPermitted,
    TokenInvalid,
)
from mopsgate.governance.freeze import FREEZE_SCHEMA, READ_SQL, frozen_error, state_from_row

T = TypeVar("T")
S = ChangeStatus

SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS changes (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        requester TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        n_records INTEGER NOT NULL,
        data TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS changes_status ON changes (status, expires_at)",
    "CREATE INDEX IF NOT EXISTS changes_requester ON changes (requester, created_at)",
    "CREATE INDEX IF NOT EXISTS changes_created ON changes (created_at)",
    """CREATE TABLE IF NOT EXISTS approvals (
        change_id TEXT NOT NULL REFERENCES changes(id),
        reviewer TEXT NOT NULL,
        roles TEXT NOT NULL,
        note TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (change_id, reviewer)
    )""",
    """CREATE TABLE IF NOT EXISTS applied_records (
        change_id TEXT NOT NULL REFERENCES changes(id),
        ref TEXT NOT NULL,
        ok INTEGER NOT NULL,
        code TEXT,
        message TEXT,
        after_image TEXT NOT NULL,
        written_at TEXT NOT NULL,
        PRIMARY KEY (change_id, ref)
    )""",
    """CREATE TABLE IF NOT EXISTS used_nonces (
        nonce TEXT PRIMARY KEY,
        change_id TEXT NOT NULL,
        used_at TEXT NOT NULL
    )""",
    FREEZE_SCHEMA,
)
PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL")

_SELECT_CHANGE = "SELECT data, status FROM changes WHERE id = ?"
_SELECT_APPROVALS = (
    "SELECT reviewer, roles, note, at FROM approvals WHERE change_id = ? ORDER BY at, reviewer"
)
_SELECT_RECORDS = (
    "SELECT ref, ok, code, message, after_image, written_at FROM applied_records "
    "WHERE change_id = ? ORDER BY written_at, ref"
)
_UPDATE_STATUS = "UPDATE changes SET status = ?, data = ? WHERE id = ? AND status = ?"


@dataclass(frozen=True)
class Query:
    sql: str
    params: Sequence[Any] = ()


@dataclass(frozen=True)
class Result:
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    rowcount: int = -1


@dataclass(frozen=True)
class Done:
    """What an operation produced: a change, or the refusal to raise once committed."""

    change: Change | None = None
    refusal: GovernanceError | None = None


Op = Generator[Query, Result, T]


def ts(value: datetime) -> str:
    """One fixed UTC format, so timestamps compare correctly as text in SQL."""
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _stored_data(change: Change) -> str:
    # Status, approvals and per-record results have their own columns/tables (the source of
    # truth); they are overlaid on read, so the JSON never holds a second, divergent copy.
    data = change.model_dump(mode="json", exclude={"approvals": True, "outcome": {"records"}})
    return json.dumps(data, sort_keys=True, ensure_ascii=False)


def _approval(row: Sequence[Any]) -> Approval:
    return Approval(reviewer=row[0], roles=json.loads(row[1]), note=row[2], at=row[3])


def _applied(row: Sequence[Any]) -> AppliedRecord:
    return AppliedRecord(
        ref=row[0],
        ok=bool(row[1]),
        code=row[2],
        message=row[3],
        after_image=json.loads(row[4]),
        written_at=row[5],
    )


def load(change_id: str) -> Op[Change | None]:
    head = yield Query(_SELECT_CHANGE, (change_id,))
    if not head.rows:
        return None
    data = json.loads(head.rows[0][0])
    data["status"] = head.rows[0][1]
    data["approvals"] = [
        _approval(r).model_dump() for r in (yield Query(_SELECT_APPROVALS, (change_id,))).rows
    ]
    records = (yield Query(_SELECT_RECORDS, (change_id,))).rows
    data.setdefault("outcome", {})["records"] = [_applied(r).model_dump() for r in records]
    return Change.model_validate(data)


def not_found(change_id: str) -> NotFound:
    return NotFound(
        f"there is no change {change_id!r}",
        hint="check the id with `mopsgate review list` (reviewers) or list_my_changes (assistant)",
        details={"reason_code": "not_found", "change_id": change_id},
    )


_STATUS_HINTS: dict[ChangeStatus, str] = {
    S.PROPOSED: "it still needs its approvals (see `mopsgate review show`)",
    S.APPROVED: "it is already approved; nothing more is needed before apply",
    S.REJECTED: "a reviewer rejected it; propose a new change if it is still wanted",
    S.EXPIRED: "it expired before it was applied; propose it again",
    S.CANCELLED: "its requester cancelled it; propose a new change if it is still wanted",
    S.APPLYING: "it is being applied right now; check it again in a moment",
    S.APPLIED: "it has already been applied; use propose_revert to undo it",
    S.FAILED: "its apply failed; see its outcome for which records were written",
    S.STALE: "the world or the manifest changed since it was planned; propose it again",
}


def status_refusal(change: Change, status: ChangeStatus, action: str) -> ChangeRefused:
    cls = TokenInvalid if action == "applied" and status in {S.APPLYING, S.APPLIED} else None
    code = "already_consumed" if cls else f"status_{status}"
    return (cls or ChangeRefused)(
        f"change {change.id} is {status}, so it cannot be {action}",
        hint=_STATUS_HINTS[status],
        details={"reason_code": code, "change_id": change.id, "status": str(status)},
    )


def transition(
    change_id: str,
    target: ChangeStatus,
    action: str,
    patch: dict[str, Any] | None = None,
    allowed: Iterable[ChangeStatus] | None = None,
    guard: Callable[[Change], GovernanceError | None] | None = None,
) -> Op[Done]:
    """Compare-and-set ``status -> target``; ``allowed`` may only narrow the lifecycle."""
    change = yield from load(change_id)
    if change is None:
        return Done(refusal=not_found(change_id))
    sources = sources_of(target) & frozenset(allowed or sources_of(target))
    if change.status not in sources:
        return Done(change, status_refusal(change, change.status, action))
    if guard is not None and (err := guard(change)) is not None:
        return Done(change, err)
    updated = change.model_copy(update={**(patch or {}), "status": target})
    args = (str(target), _stored_data(updated), change_id, str(change.status))
    if (yield Query(_UPDATE_STATUS, args)).rowcount != 1:
        return Done(change, status_refusal(change, change.status, action))
    return Done((yield from load(change_id)))


def insert(change: Change) -> Op[Done]:
    if change.status is not S.PROPOSED or change.approvals or change.outcome.records:
        raise ValueError("only a fresh proposed change, without approvals or results, is stored")
    yield Query(
        "INSERT INTO changes (id, status, requester, created_at, expires_at, n_records, data) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            change.id,
            str(change.status),
            change.requester,
            ts(change.created_at),
            ts(change.expires_at),
            len(change.plan.records),
            _stored_data(change),
        ),
    )
    return Done(change)


def claim(change_id: str, nonce: str, now: datetime, resume: bool) -> Op[Done]:
    """approved (or failed, when resuming) -> applying, exactly once, with the nonce spent in
    the same transaction. Checks freeze and expiry inside it so nothing slips between."""
    rows = (yield Query(READ_SQL)).rows
    frozen = state_from_row(rows[0] if rows else None)
    if frozen is not None:
        return Done(refusal=frozen_error(frozen))
    if (yield Query("SELECT 1 FROM used_nonces WHERE nonce = ?", (nonce,))).rows:
        return Done(refusal=_replayed(change_id))
    change = yield from load(change_id)
    if change is None:
        return Done(refusal=not_found(change_id))
    if change.status is S.APPROVED and change.is_expired(now):
        patch = {"status_detail": "expired"}
        done = yield from transition(change_id, S.EXPIRED, "applied", patch)
        return Done(done.change, status_refusal(change, S.EXPIRED, "applied"))
    allowed = {S.APPROVED, S.FAILED} if resume else {S.APPROVED}
    done = yield from transition(change_id, S.APPLYING, "applied", allowed=allowed)
    if done.refusal is None:
        yield Query(
            "INSERT INTO used_nonces (nonce, change_id, used_at) VALUES (?, ?, ?)",
            (nonce, change_id, ts(now)),
        )
    return done


def _replayed(change_id: str) -> TokenInvalid:
    return TokenInvalid(
        "this confirmation token has already been used",
        hint="a token applies its change once; get_change shows what that apply did",
        details={"reason_code": "already_used", "change_id": change_id},
    )


def record_result(
    change_id: str, result: RecordResult, after_image: dict[str, Any], now: datetime
) -> Op[Done]:
    """One record's outcome (see :func:`record_results`)."""
    return record_results(change_id, [(result, after_image)], now)


def record_results(
    change_id: str, items: Sequence[tuple[RecordResult, dict[str, Any]]], now: datetime
) -> Op[Done]:
    """One vendor batch's outcomes in one transaction, committed before the next batch is
    written. A record already written successfully can never be recorded (or written) again."""
    rows = (yield Query("SELECT status FROM changes WHERE id = ?", (change_id,))).rows
    if not rows:
        return Done(refusal=not_found(change_id))
    if rows[0][0] != S.APPLYING:
        return Done(refusal=ChangeRefused(f"change {change_id} is {rows[0][0]}, not applying"))
    for result, after_image in items:
        res = yield Query(
            "INSERT INTO applied_records (change_id, ref, ok, code, message, after_image, "
            "written_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (change_id, ref) DO UPDATE "
            "SET ok = excluded.ok, code = excluded.code, message = excluded.message, "
            "after_image = excluded.after_image, written_at = excluded.written_at "
            "WHERE applied_records.ok = 0",
            (
                change_id,
                result.ref,
                int(result.ok),
                result.code,
                result.message,
                json.dumps(after_image, sort_keys=True, ensure_ascii=False, default=str),
                ts(now),
            ),
        )
        if res.rowcount != 1:
            return Done(refusal=ChangeRefused(f"{result.ref} was already written by {change_id}"))
    return Done()


def add_approval(
    change_id: str,
    approval: Approval,
    satisfied: Callable[[list[Approval]], bool],
    guard: Callable[[Change], GovernanceError | None],
) -> Op[Done]:
    """Record one approval and, if the set is now complete, move proposed -> approved, all in
    one transaction: two reviewers approving at once cannot leave a complete set unpromoted."""
    change = yield from load(change_id)
    if change is None:
        return Done(refusal=not_found(change_id))
    if change.status is not S.PROPOSED:
        return Done(change, status_refusal(change, change.status, "approved"))
    if (err := guard(change)) is not None:
        return Done(change, err)
    if any(a.reviewer == approval.reviewer for a in change.approvals):
        return Done(change, _twice(change, approval.reviewer))
    yield Query(
        "INSERT INTO approvals (change_id, reviewer, roles, note, at) VALUES (?, ?, ?, ?, ?)",
        (change_id, approval.reviewer, json.dumps(approval.roles), approval.note, ts(approval.at)),
    )
    approvals = [*change.approvals, approval]
    if satisfied(approvals):
        done = yield from transition(change_id, S.APPROVED, "approved", allowed={S.PROPOSED})
        if done.refusal is not None or done.change is None:
            return done
    return Done((yield from load(change_id)))


def _twice(change: Change, reviewer: str) -> NotPermitted:
    return NotPermitted(
        f"{reviewer} has already approved {change.id}; N approvals need N different reviewers",
        hint="ask another reviewer who holds the required role",
        details={"reason_code": "duplicate_approval", "change_id": change.id},
    )


def expire_due(now: datetime) -> Op[list[str]]:
    due = yield Query(
        "SELECT id FROM changes WHERE status IN (?, ?) AND expires_at <= ? ORDER BY id",
        (str(S.PROPOSED), str(S.APPROVED), ts(now)),
    )
    expired: list[str] = []
    for (change_id,) in due.rows:
        done = yield from transition(change_id, S.EXPIRED, "expired", {"status_detail": "expired"})
        if done.refusal is None:
            expired.append(change_id)
    return expired


def list_ids(status: ChangeStatus | None, requester: str | None, limit: int) -> Op[list[str]]:
    where, params = [], []
    if status is not None:
        where.append("status = ?")
        params.append(str(status))
    if requester is not None:
        where.append("requester = ?")
        params.append(requester)
    sql = "SELECT id FROM changes"
    if where:
        sql += " WHERE " + " AND ".join(where)
    res = yield Query(sql + " ORDER BY created_at DESC, id LIMIT ?", (*params, limit))
    return [row[0] for row in res.rows]


def load_many(ids: list[str]) -> Op[list[Change]]:
    out = []
    for change_id in ids:
        change = yield from load(change_id)
        if change is not None:
            out.append(change)
    return out


def written_refs(change_id: str) -> Op[set[str]]:
    res = yield Query(
        "SELECT ref FROM applied_records WHERE change_id = ? AND ok = 1", (change_id,)
    )
    return {row[0] for row in res.rows}


def records_since(requester: str, since: datetime) -> Op[int]:
    res = yield Query(
        "SELECT COALESCE(SUM(n_records), 0) FROM changes WHERE requester = ? AND created_at >= ?",
        (requester, ts(since)),
    )
    return int(res.rows[0][0])


def interrupted_ids() -> Op[list[str]]:
    res = yield Query("SELECT id FROM changes WHERE status = ?", (str(S.APPLYING),))
    return [row[0] for row in res.rows]


def link(original_id: str, field: str, follow_up_id: str) -> Op[Done]:
    """Point ``original`` at the change that follows it up (``reverted_by``, ``finished_by``)."""
    change = yield from load(original_id)
    if change is None:
        return Done(refusal=not_found(original_id))
    updated = change.model_copy(update={field: follow_up_id})
    yield Query("UPDATE changes SET data = ? WHERE id = ?", (_stored_data(updated), original_id))
    return Done(updated)

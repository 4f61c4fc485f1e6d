"""A change's rows on PostgreSQL: the change with its approvals and per-record results read
back as one :class:`Change`, the compare-and-set of its status on the locked row, and the
plain reads (listing, what was written, what was left applying, a requester's records).

Every unit that moves a change reads it here with ``lock=True`` (``SELECT … FOR UPDATE``), so a
racing unit in any replica waits, then reads what the winner committed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from mopsgate.governance import change_rules as rules
from mopsgate.governance.change_model import Change, ChangeStatus
from mopsgate.governance.change_rules import Done, Guard
from mopsgate.storage.postgres.codec import jsonb
from mopsgate.storage.postgres.db import Conn

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
# The key a change stored ``audited_after`` (a proposal's, whose call writes its audit row once
# the change is stored) carries in its document until the commit that chains that row takes it
# off (``audit.ON_RECORD_SQL``): a marked change is not on record. Its first transition rewrites
# the document without it too, and every move out of proposed is final but an approval, which
# refuses a marked change.
AWAITS_ROW = "awaits_proposal_row"
_SELECT_UNAUDITED = (
    "SELECT 1 FROM changes WHERE id = %s AND (data->>'awaits_proposal_row') IS NOT NULL"
)
_UNAUDITED_IDS = (
    "SELECT id FROM changes WHERE status = %s AND created_at < %s "
    "AND (data->>'awaits_proposal_row') IS NOT NULL ORDER BY created_at, id"
)


async def load(conn: Conn, change_id: str, *, lock: bool = False) -> Change | None:
    """The change with its approvals and results; ``lock`` takes its row FOR UPDATE."""
    sql = _SELECT_CHANGE + (" FOR UPDATE" if lock else "")
    head = await (await conn.execute(sql.encode(), (change_id,))).fetchone()
    if head is None:
        return None
    data: dict[str, Any] = dict(head[0])
    data.pop(AWAITS_ROW, None)
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


async def records_since(conn: Conn, requester: str, since: datetime) -> int:
    cur = await conn.execute(
        "SELECT COALESCE(SUM(n_records), 0) FROM changes WHERE requester = %s AND created_at >= %s",
        (requester, since),
    )
    row = await cur.fetchone()
    return int(row[0]) if row is not None else 0


async def list_changes(
    conn: Conn, status: str | None, requester: str | None, limit: int
) -> list[Change]:
    cur = await conn.execute(
        "SELECT id FROM changes WHERE (%s::text IS NULL OR status = %s) "
        "AND (%s::text IS NULL OR requester = %s) ORDER BY created_at DESC, id LIMIT %s",
        (status, status, requester, requester, limit),
    )
    found = [await load(conn, row[0]) for row in await cur.fetchall()]
    return [c for c in found if c is not None]


async def written_refs(conn: Conn, change_id: str) -> set[str]:
    cur = await conn.execute(
        "SELECT ref FROM applied_records WHERE change_id = %s AND ok", (change_id,)
    )
    return {row[0] for row in await cur.fetchall()}


async def interrupted_ids(conn: Conn) -> list[str]:
    cur = await conn.execute(
        "SELECT id FROM changes WHERE status = %s ORDER BY id", (str(S.APPLYING),)
    )
    return [row[0] for row in await cur.fetchall()]


async def unaudited(conn: Conn, change_id: str) -> bool:
    """Whether the change was stored ``audited_after`` and the row of the call that proposed it
    is not (yet) in the audit log."""
    cur = await conn.execute(_SELECT_UNAUDITED, (change_id,))
    return await cur.fetchone() is not None


async def unaudited_ids(conn: Conn, created_before: datetime) -> list[str]:
    """Proposed changes stored before ``created_before`` that are :func:`unaudited`."""
    cur = await conn.execute(_UNAUDITED_IDS, (str(S.PROPOSED), created_before))
    return [row[0] for row in await cur.fetchall()]

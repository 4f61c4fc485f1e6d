"""Reading every stored decision for ``mopsgate audit verify`` on PostgreSQL, read-only: the
same rows as on SQLite (``storage/decisions.py``), with the digests taken from the ``jsonb``
document by the server."""

from __future__ import annotations

from mopsgate.governance.decision_audit import StoredDecision
from mopsgate.storage.decisions import stored_decisions
from mopsgate.storage.postgres.db import Conn

_APPROVALS = (
    "SELECT a.change_id, a.reviewer, a.note, a.at, a.proof, "
    "c.data->>'plan_digest', c.data->>'manifest_digest' "
    "FROM approvals a JOIN changes c ON c.id = a.change_id ORDER BY a.change_id, a.at"
)
_REJECTIONS = (
    "SELECT id, data->'rejection', data->>'plan_digest', data->>'manifest_digest' FROM changes "
    "WHERE jsonb_typeof(data->'rejection') = 'object' ORDER BY id"
)


async def read_decisions(conn: Conn) -> tuple[list[StoredDecision], dict[str, str]]:
    """A read unit: every stored decision, and the recorded manifest text of each digest they
    name."""
    approvals = await (await conn.execute(_APPROVALS)).fetchall()
    rejections = await (await conn.execute(_REJECTIONS)).fetchall()
    decisions = stored_decisions(approvals, rejections)
    digests = sorted({d.manifest_digest for d in decisions})
    cur = await conn.execute(
        "SELECT digest, text FROM manifest_texts WHERE digest = ANY(%s)", (digests,)
    )
    return decisions, {str(d): str(t) for d, t in await cur.fetchall()}

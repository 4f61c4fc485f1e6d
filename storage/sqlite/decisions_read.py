"""Reading every stored decision, read-only, for ``mopsgate audit verify``.

Approvals have their own table; a rejection is part of its change's document. Both are read
with the change's plan and manifest digests (``json_extract`` on the document, so a 10,000-record
plan is never parsed), and the manifest texts of the history are looked up by digest. Nothing
here writes, so it runs beside a live server or on exported evidence.
"""

from __future__ import annotations

import sqlite3
from functools import partial

from mopsgate.governance.decision_audit import StoredDecision
from mopsgate.storage.decisions import stored_decisions
from mopsgate.storage.sqlite.readonly import open_for_reading

_APPROVALS = (
    "SELECT a.change_id, a.reviewer, a.note, a.at, a.proof, "
    "json_extract(c.data, '$.plan_digest'), json_extract(c.data, '$.manifest_digest') "
    "FROM approvals a JOIN changes c ON c.id = a.change_id ORDER BY a.change_id, a.at"
)
_REJECTIONS = (
    "SELECT id, json_extract(data, '$.rejection'), json_extract(data, '$.plan_digest'), "
    "json_extract(data, '$.manifest_digest') FROM changes "
    "WHERE json_extract(data, '$.rejection') IS NOT NULL ORDER BY id"
)


def _decisions(conn: sqlite3.Connection) -> list[StoredDecision]:
    return stored_decisions(conn.execute(_APPROVALS), conn.execute(_REJECTIONS))


def _texts(conn: sqlite3.Connection, digests: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for digest in digests:
        row = conn.execute("SELECT text FROM manifest_texts WHERE digest = ?", (digest,)).fetchone()
        if row is not None:
            found[digest] = str(row[0])
    return found


async def read_decisions(path: str) -> tuple[list[StoredDecision], dict[str, str]]:
    """Every stored decision, and the recorded manifest text of each digest they name."""
    db, source = await open_for_reading(path, name="decisions")
    try:
        decisions = await db.read(_decisions)
        digests = sorted({d.manifest_digest for d in decisions})
        return decisions, await db.read(partial(_texts, digests=digests))
    finally:
        await db.close()
        source.close()

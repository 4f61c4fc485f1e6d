"""Bearer tokens for HTTP clients: issued by an admin, bound to one principal, stored hashed.

Only the SHA-256 of a token is kept, so a copy of the database does not hand out access. A
token is shown once, at creation. Lookups go through the hash (an index probe), so no token
comparison leaks timing about stored values.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

PREFIX = "mgt_"

SCHEMA = """
CREATE TABLE IF NOT EXISTS bearer_tokens (
    token_hash TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked INTEGER NOT NULL DEFAULT 0
)
"""


@dataclass(frozen=True)
class TokenRecord:
    principal: str
    label: str
    created_at: str
    expires_at: str | None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _connect(db_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path, timeout=5.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(SCHEMA)
    return conn


def create_token(
    db_path: Path, principal: str, *, label: str = "", ttl_days: int | None = None
) -> str:
    token = PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    expires = (now + timedelta(days=ttl_days)).isoformat() if ttl_days else None
    with _connect(db_path) as conn:
        conn.execute(
            "INSERT INTO bearer_tokens (token_hash, principal, label, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (_hash(token), principal, label, now.isoformat(), expires),
        )
    return token


def lookup_token(db_path: Path, token: str) -> TokenRecord | None:
    """The principal a presented token stands for, or None (unknown, revoked or expired)."""
    if not token.startswith(PREFIX) or len(token) > 200 or not db_path.exists():
        return None
    with _connect(db_path) as conn:
        row = conn.execute(
            "SELECT principal, label, created_at, expires_at FROM bearer_tokens "
            "WHERE token_hash = ? AND revoked = 0",
            (_hash(token),),
        ).fetchone()
    if row is None:
        return None
    record = TokenRecord(*row)
    if record.expires_at and datetime.fromisoformat(record.expires_at) < datetime.now(UTC):
        return None
    return record


def revoke_principal_tokens(db_path: Path, principal: str) -> int:
    with _connect(db_path) as conn:
        cur = conn.execute("UPDATE bearer_tokens SET revoked = 1 WHERE principal = ?", (principal,))
        return cur.rowcount

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
from typing import Literal

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


@dataclass(frozen=True)
class RefusedToken:
    """A presented token that matches a stored one but is no longer accepted."""

    principal: str
    reason: Literal["revoked", "expired"]


def _stored(db_path: Path, token: str) -> tuple[TokenRecord, bool] | None:
    """The stored record of a presented token and whether it was revoked, or None."""
    if not token.startswith(PREFIX) or len(token) > 200 or not db_path.exists():
        return None
    with _connect(db_path) as conn:
        row = conn.execute(
            "SELECT principal, label, created_at, expires_at, revoked FROM bearer_tokens "
            "WHERE token_hash = ?",
            (_hash(token),),
        ).fetchone()
    return None if row is None else (TokenRecord(*row[:4]), bool(row[4]))


def _expired(record: TokenRecord) -> bool:
    return bool(record.expires_at) and datetime.fromisoformat(
        str(record.expires_at)
    ) < datetime.now(UTC)


def lookup_token(db_path: Path, token: str) -> TokenRecord | None:
    """The principal a presented token stands for, or None (unknown, revoked or expired)."""
    stored = _stored(db_path, token)
    if stored is None or stored[1] or _expired(stored[0]):
        return None
    return stored[0]


def refused_token(db_path: Path, token: str) -> RefusedToken | None:
    """Why a real token is refused (revoked or expired); None for a token that was never issued
    (or is still good). Only for the refusal path, so the user can be told what to do."""
    stored = _stored(db_path, token)
    if stored is None:
        return None
    record, revoked = stored
    if revoked:
        return RefusedToken(record.principal, "revoked")
    return RefusedToken(record.principal, "expired") if _expired(record) else None


def revoke_principal_tokens(db_path: Path, principal: str) -> int:
    with _connect(db_path) as conn:
        cur = conn.execute("UPDATE bearer_tokens SET revoked = 1 WHERE principal = ?", (principal,))
        return cur.rowcount

"""Bearer tokens for HTTP clients: what a token looks like, how it is hashed, when it is refused.

A token is issued by an admin, bound to one principal, shown once and stored only as its
SHA-256, so a copy of the database does not hand out access. Lookups go through the hash (an
index probe), so no token comparison leaks timing about stored values.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

PREFIX = "mgt_"
MAX_LENGTH = 200

Refusal = Literal["revoked", "expired"]


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(text: str) -> bool:
    """Whether a presented string could be one of ours at all (anything else is refused
    without a lookup)."""
    return text.startswith(PREFIX) and len(text) <= MAX_LENGTH


@dataclass(frozen=True)
class TokenRecord:
    """What is stored about a token (never the token itself)."""

    principal: str
    label: str
    created_at: datetime
    expires_at: datetime | None
    revoked: bool = False

    def refusal(self, now: datetime) -> Refusal | None:
        """Why this token no longer grants access, or None while it does."""
        if self.revoked:
            return "revoked"
        if self.expires_at is not None and self.expires_at < now:
            return "expired"
        return None


@dataclass(frozen=True)
class IssuedToken:
    """A new token, to be shown once, and its record."""

    token: str
    record: TokenRecord

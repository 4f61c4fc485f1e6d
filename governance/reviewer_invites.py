"""One-time links that let a reviewer enrol a passkey in the console.

An admin makes one with ``mopsgate reviewer invite``; the link carries a random token, the
store keeps only its sha256. It works once (the enrolment that uses it wins a compare-and-set;
a second use, or a use after 24 hours, is refused) and every step is audited. Using it only
produces the credential to declare: the passkey opens nothing until the manifest owner declares
it (on a sandbox-only manifest, ``mopsgate reviewer enrol`` lets the console declare it).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

INVITE_TTL = timedelta(hours=24)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Invite:
    token_hash: str
    reviewer: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    declare: bool = False  # sandbox only: the console declares the passkey in the manifest
    used_at: datetime | None = None
    credential: str | None = None  # fingerprint of the passkey enrolled with it

    def usable(self, now: datetime) -> bool:
        return self.used_at is None and now < self.expires_at

    def why_not(self, now: datetime) -> str:
        if self.used_at is not None:
            return "this invite has already been used; ask for a new one"
        if now >= self.expires_at:
            return "this invite has expired (invites last 24 hours); ask for a new one"
        return ""


def new_invite(
    reviewer: str, created_by: str, now: datetime, *, declare: bool = False
) -> tuple[str, Invite]:
    """The token (shown once, in the link) and the invite to store."""
    token = new_token()
    invite = Invite(
        token_hash=token_hash(token),
        reviewer=reviewer,
        created_by=created_by,
        created_at=now,
        expires_at=now + INVITE_TTL,
        declare=declare,
    )
    return token, invite

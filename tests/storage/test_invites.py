"""Passkey enrolment invites in storage: found by the token's hash only, used at most once,
never after they expire; of two racing uses exactly one wins."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from mopsgate.governance.reviewer_invites import INVITE_TTL, new_invite, token_hash
from mopsgate.storage import Storage
from tests.storage.backends import Backend

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


async def test_an_invite_is_found_by_its_hash_and_used_once(
    storage: Storage, backend: Backend
) -> None:
    token, invite = new_invite("mops-lead", "admin", NOW)
    await storage.invites.create(invite)
    assert token not in repr(backend.query("SELECT * FROM reviewer_invites"))
    found = await storage.invites.find(token_hash(token))
    assert found == invite and found.usable(NOW)
    used = await storage.invites.use(invite.token_hash, at=NOW, credential="passkey:sha256:ab")
    assert used is not None and used.used_at == NOW and used.credential == "passkey:sha256:ab"
    assert await storage.invites.use(invite.token_hash, at=NOW, credential="passkey:x") is None
    again = await storage.invites.find(invite.token_hash)
    assert again is not None and "already been used" in again.why_not(NOW)


async def test_an_expired_invite_cannot_be_used(storage: Storage) -> None:
    _, invite = new_invite("compliance", "admin", NOW)
    await storage.invites.create(invite)
    late = NOW + INVITE_TTL
    assert "expired" in invite.why_not(late)
    assert await storage.invites.use(invite.token_hash, at=late, credential="k") is None
    assert await storage.invites.use(
        invite.token_hash, at=late - timedelta(seconds=1), credential="k"
    )


async def test_two_racing_uses_one_wins(storage: Storage) -> None:
    _, invite = new_invite("mops-lead", "admin", NOW)
    await storage.invites.create(invite)
    results = await asyncio.gather(
        *(storage.invites.use(invite.token_hash, at=NOW, credential=f"k{i}") for i in range(8))
    )
    assert sum(r is not None for r in results) == 1

"""The HTTP door's cache of token lookups trusts memory only while the revocation sentinel can
be read: a sentinel that is missing or garbled means every request is looked up again, so a
revocation the sentinel failed to announce is still refused at the next request."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from mopsgate.server.bearer import BearerCache
from mopsgate.server.settings import Settings, ensure_home
from mopsgate.storage import Storage, open_storage

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _revoke_behind_the_sentinels_back(settings: Settings, principal: str) -> None:
    """What a revocation looks like to a process whose sentinel never moved."""
    with sqlite3.connect(settings.db_path) as conn:
        conn.execute("UPDATE bearer_tokens SET revoked = 1 WHERE principal = ?", (principal,))


async def _refusal(cache: BearerCache, token: str) -> str | None:
    record = await cache.lookup(token)
    assert record is not None
    return record.refusal(NOW)


async def _issue(storage: Storage, principal: str) -> str:
    issued = await storage.tokens.create(principal, label="", expires_at=None, now=NOW)
    return issued.token


async def test_a_readable_sentinel_lets_the_cache_answer(settings: Settings) -> None:
    ensure_home(settings)
    storage = await open_storage(settings.storage())
    try:
        token = await _issue(storage, "analyst")
        cache = BearerCache(lambda: storage.tokens)
        assert await _refusal(cache, token) is None
        _revoke_behind_the_sentinels_back(settings, "analyst")
        assert await _refusal(cache, token) is None  # answered from memory: nothing announced it
        await storage.tokens.revoke_principal("analyst")  # the real revoke moves the sentinel
        assert await _refusal(cache, token) == "revoked"
    finally:
        await storage.close()


async def test_an_unreadable_sentinel_sends_every_request_to_the_store(settings: Settings) -> None:
    ensure_home(settings)
    storage = await open_storage(settings.storage())
    try:
        sentinel = storage.tokens.sentinel  # type: ignore[attr-defined]
        cache = BearerCache(lambda: storage.tokens)
        for principal, spoil in (
            ("analyst", lambda: sentinel.write_bytes(b"\xff\xfe not ascii\n")),
            ("assistant", sentinel.unlink),
        ):
            token = await _issue(storage, principal)
            spoil()
            assert await storage.tokens.generation() is None
            assert await _refusal(cache, token) is None
            _revoke_behind_the_sentinels_back(settings, principal)
            assert await _refusal(cache, token) == "revoked"
    finally:
        await storage.close()

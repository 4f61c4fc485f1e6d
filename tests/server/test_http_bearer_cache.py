"""The HTTP door's cache of token lookups trusts memory only while the revocation sentinel can
be read: a sentinel that is missing or garbled means every request is looked up again, so a
revocation the sentinel failed to announce is still refused at the next request."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime

from mopsgate.governance.bearer_tokens import IssuedToken, TokenRecord
from mopsgate.server.bearer import BearerCache
from mopsgate.server.settings import Settings, ensure_home
from mopsgate.storage import Storage, open_storage
from mopsgate.storage.api import TokenStore

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


class _HeldLookups:
    """The store, with its lookups held after they have read the database, until released: a
    request whose lookup is still on its way back when a revocation lands."""

    def __init__(self, tokens: TokenStore) -> None:
        self.tokens = tokens
        self.hold = False
        self.read = asyncio.Event()
        self.release = asyncio.Event()

    async def create(
        self, principal: str, *, label: str, expires_at: datetime | None, now: datetime
    ) -> IssuedToken:
        return await self.tokens.create(principal, label=label, expires_at=expires_at, now=now)

    async def revoke_principal(self, principal: str) -> int:
        return await self.tokens.revoke_principal(principal)

    async def generation(self) -> str | None:
        return await self.tokens.generation()

    async def lookup(self, token_hash: str) -> TokenRecord | None:
        record = await self.tokens.lookup(token_hash)
        if self.hold:
            self.read.set()
            await self.release.wait()
        return record


async def test_a_lookup_read_before_a_revocation_is_not_remembered_after_it(
    settings: Settings,
) -> None:
    ensure_home(settings)
    storage = await open_storage(settings.storage())
    try:
        leaked = await _issue(storage, "analyst")
        other = await _issue(storage, "assistant")
        held = _HeldLookups(storage.tokens)
        cache = BearerCache(lambda: held)
        held.hold = True
        in_flight = asyncio.ensure_future(cache.lookup(leaked))
        await held.read.wait()  # it has read the token as live
        held.hold = False
        await storage.tokens.revoke_principal("analyst")
        assert await _refusal(cache, other) is None  # another client's request, after it
        held.release.set()
        await in_flight  # answered as of when it began: before the revocation
        assert await _refusal(cache, leaked) == "revoked"  # the next request is refused
    finally:
        await storage.close()

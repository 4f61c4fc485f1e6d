"""Bearer tokens at the HTTP door: a per-process cache of lookups that a revocation anywhere
empties at once.

Each request asks the token store for its generation (a sentinel read, microseconds); when it
moved since the cache was filled, or cannot be told, the cache is emptied first. A hit is
answered from memory; a miss is one lookup on the read connection, remembered whether the token
was found or not, so a client hammering with a wrong token costs no more than a right one. Only
token hashes are kept, never tokens. Expiry is checked on every request against the clock.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

from mcp.server.auth.provider import AccessToken, TokenVerifier

from mopsgate.governance.bearer_tokens import TokenRecord, looks_like_token, token_hash
from mopsgate.governance.errors import GovernanceError
from mopsgate.storage.api import TokenStore

log = logging.getLogger("mopsgate.http")

SCOPE = "mopsgate"
CACHE_SIZE = 10_000
CACHE_SECONDS = 60.0  # a safety net only: the generation is what makes revocation immediate


class BearerCache:
    def __init__(
        self,
        tokens: Callable[[], TokenStore],
        *,
        size: int = CACHE_SIZE,
        seconds: float = CACHE_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tokens = tokens
        self._size = size
        self._seconds = seconds
        self._monotonic = monotonic
        self._generation: str | None = None
        self._entries: OrderedDict[str, tuple[float, TokenRecord | None]] = OrderedDict()

    async def lookup(self, token: str) -> TokenRecord | None:
        """The stored record of a presented token (revoked and expired ones included), or
        None for a token that was never issued."""
        if not looks_like_token(token):
            return None
        store = self._tokens()
        generation = await store.generation()
        if generation is None or generation != self._generation:
            self._entries.clear()
            self._generation = generation
        key = token_hash(token)
        now = self._monotonic()
        cached = self._entries.get(key)
        if cached is not None and cached[0] > now:
            self._entries.move_to_end(key)
            return cached[1]
        record = await store.lookup(key)
        # Remembered only under the generation it was read in: while this lookup was away,
        # another request may have seen a revocation move the sentinel and emptied the cache;
        # a record read before that revocation must not be kept as if read after it.
        if generation is not None and generation == self._generation:
            self._entries[key] = (now + self._seconds, record)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return record


class BearerVerifier(TokenVerifier):
    """The SDK's token check: a token that is found, not revoked and not expired stands for its
    principal; anything else is refused (``http_unauthorized`` explains the 401)."""

    def __init__(self, cache: BearerCache) -> None:
        self.cache = cache

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            record = await self.cache.lookup(token)
        except GovernanceError as exc:  # storage unavailable: fail closed
            log.error("bearer token could not be checked: %s", exc)
            return None
        now = datetime.now(UTC)
        if record is None or record.refusal(now) is not None:
            return None
        expires = record.expires_at or datetime.fromtimestamp(time.time() + 3600, UTC)
        return AccessToken(
            token="(redacted)",  # noqa: S106 - the real token is never kept
            client_id=record.principal,
            scopes=[SCOPE],
            expires_at=int(expires.timestamp()),
        )

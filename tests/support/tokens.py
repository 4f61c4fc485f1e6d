"""Bearer tokens for tests, issued the way ``mopsgate token create`` does it (through storage),
from sync or async tests alike."""

from __future__ import annotations

from mopsgate.governance.bearer_tokens import TokenRecord, token_hash
from mopsgate.server.cli_async import run
from mopsgate.server.cli_token import create_token
from mopsgate.server.settings import Settings, ensure_home
from mopsgate.storage import StorageConfig, open_storage


def issue_token(settings: Settings, principal: str, *, ttl_days: int | None = None) -> str:
    ensure_home(settings)
    return run(create_token(settings.storage(), principal, "test", ttl_days))


async def _lookup(cfg: StorageConfig, token: str) -> TokenRecord | None:
    storage = await open_storage(cfg)
    try:
        return await storage.tokens.lookup(token_hash(token))
    finally:
        await storage.close()


def stored_token(settings: Settings, token: str) -> TokenRecord | None:
    """What the store holds for a token (None if it was never issued)."""
    return run(_lookup(settings.storage(), token))

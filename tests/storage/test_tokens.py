"""Bearer tokens in storage, on every backend: stored only as hashes, revoked per principal,
and a generation every process can see move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mopsgate.governance.bearer_tokens import PREFIX, token_hash
from mopsgate.storage import Storage
from tests.storage.backends import Backend

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


async def test_a_token_is_found_by_its_hash_and_never_stored(
    storage: Storage, backend: Backend
) -> None:
    issued = await storage.tokens.create(
        "assistant", label="laptop", expires_at=NOW + timedelta(days=7), now=NOW
    )
    assert issued.token.startswith(PREFIX)
    record = await storage.tokens.lookup(token_hash(issued.token))
    assert record is not None
    assert (record.principal, record.label, record.revoked) == ("assistant", "laptop", False)
    assert (record.created_at, record.expires_at) == (NOW, NOW + timedelta(days=7))
    assert record.refusal(NOW) is None and record.refusal(NOW + timedelta(days=8)) == "expired"
    assert issued.token not in repr(backend.query("SELECT * FROM bearer_tokens"))
    assert await storage.tokens.lookup(token_hash(PREFIX + "never-issued")) is None


async def test_revoking_a_principal_revokes_all_its_tokens_and_no_one_elses(
    storage: Storage,
) -> None:
    mine = [
        await storage.tokens.create("assistant", label=str(i), expires_at=None, now=NOW)
        for i in range(2)
    ]
    other = await storage.tokens.create("analyst", label="", expires_at=None, now=NOW)
    assert await storage.tokens.revoke_principal("assistant") == 2
    assert await storage.tokens.revoke_principal("assistant") == 0
    for issued in mine:
        record = await storage.tokens.lookup(token_hash(issued.token))
        assert record is not None and record.refusal(NOW) == "revoked"
    kept = await storage.tokens.lookup(token_hash(other.token))
    assert kept is not None and kept.refusal(NOW) is None


async def test_every_process_sees_the_generation_move(storage: Storage, backend: Backend) -> None:
    """A second process on the same database (here: a second open storage) sees each create
    and each revoke as a new generation as soon as the call returned."""
    other = await backend.open()
    try:
        seen = {await other.tokens.generation()}
        await storage.tokens.create("assistant", label="", expires_at=None, now=NOW)
        seen.add(after_create := await other.tokens.generation())
        await storage.tokens.revoke_principal("assistant")
        seen.add(after_revoke := await other.tokens.generation())
        assert None not in seen and len(seen) == 3
        assert after_revoke == await storage.tokens.generation() != after_create
    finally:
        await other.close()

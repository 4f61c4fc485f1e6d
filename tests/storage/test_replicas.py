"""Several replicas on one PostgreSQL database, as their users would notice it (issue #12,
item 2). A replica is a separate process (``tests/support/replica.py``) or, where the guarantee
lives in the database rather than in the process, a second storage opened on the same database:
a pool of connections of its own, exactly what another replica holds.

- one audit chain: appends racing from three processes never fork it, number it without a gap,
  and ``audit verify`` passes;
- calls per minute are one budget whichever replica a call reached;
- a token revoked through one replica is refused by another on its very next lookup;
- a freeze set through one replica refuses the next claim in another;
- a change being applied by a live replica is not "recovered" by another, and is once the
  applying process has gone.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator

import pytest

from mopsgate.governance.bearer_tokens import token_hash
from mopsgate.governance.change_model import ChangeStatus
from mopsgate.governance.errors import Frozen, TokenInvalid
from mopsgate.server.bearer import BearerCache
from mopsgate.storage import Storage, StorageConfig, audit_reader, open_storage
from tests.governance.change_factory import NOW
from tests.storage.events import allowed
from tests.storage.test_changes import approved
from tests.support.cli_forks import cli_forks


@pytest.fixture
async def replicas(pg_url: str) -> AsyncIterator[tuple[Storage, Storage]]:
    """Two replicas' storages on the session's PostgreSQL database."""
    first = await open_storage(StorageConfig(pg_url))
    second = await open_storage(StorageConfig(pg_url))
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def replica(command: str, **args: object) -> dict[str, object]:
    """Run ``tests/support/replica.py`` in a process of its own (forked by the fork server:
    ``tests/support/cli_forks.py``); what it printed."""
    forks = cli_forks()
    proc = await forks.finished(
        forks.start_module("tests.support.replica", [command, json.dumps(args)], os.environ)
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


async def test_one_chain_from_three_processes_without_a_gap(pg_url: str) -> None:
    here = await open_storage(StorageConfig(pg_url))
    try:
        event = allowed(principal="assistant")
        mine, *theirs = await asyncio.gather(
            asyncio.gather(*(here.audit.append(event, count_call=True) for _ in range(150))),
            replica("append", url=pg_url, n=150),
            replica("append", url=pg_url, n=150),
        )
        seqs = [r.seq for r in mine] + [s for t in theirs for s in t["seqs"]]  # type: ignore[attr-defined]
        assert sorted(seqs) == list(range(1, 451))  # each row once, no gap, no fork
        result = await audit_reader(StorageConfig(pg_url)).verify()
        assert result.ok and result.rows == 450
        window = await here.rates.count_calls("assistant", time.time())
        assert window.calls == 450  # the three processes' calls are one budget
    finally:
        await here.close()


async def test_calls_per_minute_are_one_budget_across_replicas(
    replicas: tuple[Storage, Storage],
) -> None:
    first, second = replicas
    await asyncio.gather(
        *(first.audit.append(allowed(principal="alice"), count_call=True) for _ in range(3)),
        *(second.audit.append(allowed(principal="alice"), count_call=True) for _ in range(2)),
    )
    now = time.time()
    assert (await first.rates.count_calls("alice", now)).calls == 5
    assert (await second.rates.count_calls("alice", now)).calls == 5


async def test_a_token_revoked_on_one_replica_is_refused_by_another_at_once(
    replicas: tuple[Storage, Storage],
) -> None:
    first, second = replicas
    issued = await first.tokens.create("assistant", label="laptop", expires_at=None, now=NOW)
    cache = BearerCache(lambda: second.tokens)  # the second replica's cache of lookups
    found = await cache.lookup(issued.token)
    assert found is not None and not found.revoked
    assert await first.tokens.revoke_principal("assistant") == 1
    again = await cache.lookup(issued.token)
    assert again is not None and again.revoked
    assert (await second.tokens.lookup(token_hash(issued.token))) == again


async def test_a_freeze_through_one_replica_refuses_the_next_claim_in_another(
    replicas: tuple[Storage, Storage],
) -> None:
    first, second = replicas
    cid = await approved(first)
    await first.freeze.freeze("incident 42", "ops", at=NOW)
    with pytest.raises(Frozen, match="incident 42"):
        await second.changes.claim_for_apply(cid, "n1", now=NOW)
    await first.freeze.unfreeze("ops")
    claimed = await second.changes.claim_for_apply(cid, "n1", now=NOW)
    assert claimed.status == "applying"


async def test_a_live_replica_keeps_its_apply_and_a_dead_one_leaves_it_to_recovery(
    pg_url: str,
) -> None:
    applying = await open_storage(StorageConfig(pg_url))
    other = await open_storage(StorageConfig(pg_url))
    try:
        cid = await approved(applying, n=2)
        await applying.changes.claim_for_apply(cid, "n1", now=NOW)
        assert await other.changes.interrupted_ids() == []  # alive: not other's to settle
        with pytest.raises(TokenInvalid, match="is applying"):
            await other.changes.claim_for_apply(cid, "n2", now=NOW)
        await applying.close()  # the applying process goes away mid-apply
        assert await other.changes.interrupted_ids() == [cid]
        settled = await other.changes.finish_apply(cid, "failed", "interrupted")
        assert settled.status == "failed"
        assert await other.changes.interrupted_ids() == []
    finally:
        await applying.close()
        await other.close()


async def test_applies_in_progress_leave_the_pool_to_the_calls(pg_url: str) -> None:
    """Each apply holds its lock on a connection of its own: more applies in progress than the
    pool has connections still leave every call its connection."""
    from mopsgate.storage.postgres.db import POOL_SIZE

    storage = await open_storage(StorageConfig(pg_url))
    try:
        ids = [await approved(storage) for _ in range(POOL_SIZE + 2)]
        for n, cid in enumerate(ids):
            await storage.changes.claim_for_apply(cid, f"n{n}", now=NOW)
        assert await storage.tokens.generation() is not None
        listed = await storage.changes.list_changes(status=ChangeStatus.APPLYING, limit=100)
        assert sorted(c.id for c in listed) == sorted(ids)
    finally:
        await storage.close()

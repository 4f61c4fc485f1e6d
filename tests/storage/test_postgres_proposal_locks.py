"""PostgreSQL: a proposal waiting for its requester's hourly budget (another replica is
storing a proposal for the same requester) does not hold up anybody's audit rows meanwhile.
The proposal checks that the audit log would take its row inside its own transaction; that
check locks the chain's head, so it is taken only once the budget lock is held."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import psycopg

from mopsgate.governance.change_rules import RecordBudget
from tests.governance.change_factory import NOW, change
from tests.storage.backends import PostgresBackend
from tests.storage.events import allowed

# Only a guard against a hang turning into a stuck suite.
NEVER = 10
BUDGET_LOCK = (
    "SELECT pg_advisory_xact_lock(hashtextextended('mopsgate.records-per-hour:' || %s, 0))"
)
WAITING = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"


async def test_a_proposal_waiting_for_its_budget_does_not_hold_up_the_audit_log(
    pg_url: str,
) -> None:
    storage = await PostgresBackend(pg_url).open()
    try:
        with psycopg.connect(pg_url) as other, psycopg.connect(pg_url, autocommit=True) as look:
            other.execute(BUDGET_LOCK, ("bot",))  # another replica's proposal for "bot"
            budget = RecordBudget(10, NOW - timedelta(hours=1), 1)
            proposal = asyncio.ensure_future(storage.changes.insert(change(n=1), budget=budget))
            async with asyncio.timeout(NEVER):
                while look.execute(WAITING).fetchone() != (1,):
                    await asyncio.sleep(0.01)
                record = await storage.audit.append(allowed(result_summary="meanwhile"))
            assert record.seq == 1
            assert not proposal.done()
            other.rollback()
        async with asyncio.timeout(NEVER):
            stored = await proposal
        assert stored.status == "proposed"
    finally:
        await storage.close()

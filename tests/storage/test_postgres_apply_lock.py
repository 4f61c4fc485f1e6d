"""The apply lock on PostgreSQL, as a replica sees it: let go means free, at once.

Closing a connection only asks its server process to end; the session's advisory locks go when
that process has gone, a moment later. A claim made in that moment (this process retrying after
a freeze was lifted, or another replica) was refused as "being applied right now" for a change
nobody was applying. Releasing unlocks first, so the lock is free when ``release`` returns.
"""

from __future__ import annotations

import pytest

from mopsgate.storage.postgres.apply_lock import ApplyLocks
from mopsgate.storage.postgres.db import PgDb

pytestmark = pytest.mark.asyncio


async def test_a_released_apply_lock_can_be_taken_again_at_once(pg_url: str) -> None:
    db = await PgDb.open(pg_url, where="test", name="apply-lock-test")
    try:
        mine, other_replica = ApplyLocks(db), ApplyLocks(db)
        for attempt in range(80):  # the race lost within a few dozen tries before the fix
            change_id = f"chg-{attempt}"
            assert await mine.take(change_id)
            assert not await other_replica.take(change_id)  # held: another replica waits
            await mine.release(change_id)
            assert await other_replica.take(change_id), f"still held after release ({attempt})"
            await other_replica.release(change_id)
            assert await mine.take(change_id)  # and back: the same process retrying
            await mine.release(change_id)
    finally:
        await db.close()

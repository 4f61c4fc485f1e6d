"""One apply at a time per record, in this process (catalogue T-16).

Two different approved changes to the same record, applied at the same moment, would otherwise
both re-read the record before either wrote, both find it unchanged, and both write: the second
silently overwrites the first. Holding every target's lock from the re-read through the write
makes the second re-read see the first's write, so it ends as stale and writes nothing.

Locks are taken in sorted order (no deadlock between changes sharing several records) and
dropped when nobody holds or waits for them, so memory stays bounded by the applies in flight.
Another server process on the same database is not covered: there the re-read before writing
is the only guard (the residual race the catalogue's §6 names).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager


class RecordLocks:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def holding(self, keys: Iterable[str]) -> AsyncIterator[None]:
        """Hold the lock of every key (a record reference, a list or campaign) until exit."""
        ordered = sorted(set(keys))
        for key in ordered:
            self._users[key] = self._users.get(key, 0) + 1
        held: list[asyncio.Lock] = []
        try:
            for key in ordered:
                lock = self._locks.setdefault(key, asyncio.Lock())
                await lock.acquire()
                held.append(lock)
            yield
        finally:
            for lock in reversed(held):
                lock.release()
            for key in ordered:
                self._users[key] -= 1
                if not self._users[key]:
                    del self._users[key], self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)

"""What a read learned moments ago that a write right after needs again.

An apply re-reads every record it will write (the stale check, consent included) and then
writes. Some vendor writes need a value that re-read has just returned: Salesforce deletes and
re-statuses CampaignMember rows by their own ids, HubSpot unsubscribes by address. Asking the
vendor again costs a call per batch for nothing, and Marketo-sized daily quotas are what a
team runs out of first. So a client keeps those values for a short while, and its writes take
what is fresh and ask only for the rest.

Only writes consult it, never a read (a read always asks the vendor), and only within ``ttl``
seconds of the read: the same window a write always had between looking a value up and using
it, a little longer. A value that changed in that window makes the write fail for that record
(a deleted member id) and the apply reports it; it never writes to anyone the plan did not name.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

TTL_SECONDS = 120.0
MAX_ENTRIES = 200_000


class Recent(Generic[K, V]):
    def __init__(
        self, ttl: float = TTL_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self._items: dict[K, tuple[float, V]] = {}

    def put(self, items: Mapping[K, V]) -> None:
        now = self.clock()
        if len(self._items) + len(items) > MAX_ENTRIES:
            self._items = {k: e for k, e in self._items.items() if now - e[0] < self.ttl}
            if len(self._items) + len(items) > MAX_ENTRIES:
                self._items.clear()
        self._items.update((k, (now, v)) for k, v in items.items())

    def forget(self, keys: Iterable[K]) -> None:
        for key in keys:
            self._items.pop(key, None)

    def fresh(self, keys: Iterable[K]) -> tuple[dict[K, V], list[K]]:
        """The values read less than ``ttl`` seconds ago, and the keys to ask the vendor for."""
        now = self.clock()
        found: dict[K, V] = {}
        missing: list[K] = []
        for key in keys:
            entry = self._items.get(key)
            if entry is not None and now - entry[0] < self.ttl:
                found[key] = entry[1]
            else:
                missing.append(key)
        return found, missing

"""What a whole-database read computed, kept for the pages after its first.

``find_cross_system_drift`` and ``find_duplicates`` read every person record of a connector to
answer any one page. Reading them again for each page spends the vendor's API budget (20,000
HubSpot people are 200 requests, per page) and lets records move under the pages: an offset
into a fresh scan can skip or repeat a group. So:

- a call WITHOUT a cursor always reads the vendors afresh, and its result is kept;
- a call WITH a cursor pages through the kept result when it was computed for the same
  principal under the same use case (object rights follow the use case), the same query and
  the same rights (the very manifest in force, exceptions
  included: rights that changed since mean a fresh read) at most ``SNAPSHOT_SECONDS`` ago;
  otherwise it reads afresh, as the first page did.

How stale a page may be: a page after the first shows what the vendors held when the first
page was asked for, at most ``SNAPSHOT_SECONDS`` earlier. Asking without a cursor always shows
the vendors as they are now.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from mopsgate.tools.paging import Query, query_key

SNAPSHOT_SECONDS = 120.0
SNAPSHOT_MINUTES = SNAPSHOT_SECONDS / 60  # as the tool descriptions say it
MAX_SNAPSHOTS = 8  # whole-database results held at once, the least recently used dropped

T = TypeVar("T")


@dataclass(frozen=True)
class _Kept:
    at: float
    rights: object  # the manifest the result was computed under (compared by identity)
    value: object


class Snapshots:
    """One per MCP server (the pipeline's), shared by every call it serves."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._kept: OrderedDict[tuple[str, str, str], _Kept] = OrderedDict()

    async def result(
        self,
        kind: type[T],
        *,
        principal: str,
        use_case: str | None,
        query: Query,
        rights: object,
        first_page: bool,
        compute: Callable[[], Awaitable[T]],
    ) -> T:
        """The kept result for a later page of this query, else ``compute()`` (kept)."""
        key = (principal, use_case or "", query_key(query))
        kept = self._kept.get(key)
        now = self._clock()
        if (
            not first_page
            and kept is not None
            and kept.rights is rights
            and now - kept.at <= SNAPSHOT_SECONDS
            and isinstance(kept.value, kind)
        ):
            self._kept.move_to_end(key)
            return kept.value
        value = await compute()
        self._kept[key] = _Kept(now, rights, value)
        self._kept.move_to_end(key)
        while len(self._kept) > MAX_SNAPSHOTS:
            self._kept.popitem(last=False)
        return value

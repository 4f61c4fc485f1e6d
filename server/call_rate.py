"""Per-principal call rate: a sliding one-minute window, checked before anything runs.

It limits how fast an assistant can act (and how fast a runaway loop burns the vendors' API
budget); the record-level hourly limit on proposals lives with the change store.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from mopsgate.governance.errors import RateLimited

WINDOW = 60.0


class CallRate:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._calls: dict[str, deque[float]] = {}
        self._clock = clock

    def check(self, principal: str, per_minute: int) -> None:
        now = self._clock()
        stamps = self._calls.setdefault(principal, deque())
        while stamps and now - stamps[0] >= WINDOW:
            stamps.popleft()
        if len(stamps) >= per_minute:
            wait = WINDOW - (now - stamps[0])
            raise RateLimited(
                f"{principal} made {len(stamps)} calls in the last minute; the limit is "
                f"{per_minute}.",
                hint=f"Wait about {wait:.0f} s before the next call.",
                rule_id="rate-limit",
            )
        stamps.append(now)

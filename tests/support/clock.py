"""One fake clock for every test that must not wait for real time.

Clients, limiters and emulators take a monotonic ``clock`` callable and an async ``sleep``; the
core takes a ``Clock`` with ``now()`` and ``monotonic()``. One object plays all of them, so a test
that sleeps (a limiter waiting out its window, a retry backing off) moves the same time the
emulator and the core see, instantly, and records what it was asked to wait.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self, t: float = 1000.0, start: datetime = START) -> None:
        self.t = t
        self.origin = t
        self.start = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        """Monotonic seconds: what limiters, clients and emulators take as ``clock``."""
        return self.t

    def monotonic(self) -> float:
        return self.t

    def now(self) -> datetime:
        """Wall-clock time (UTC): ``start`` plus the time that has passed on this clock."""
        return self.start + timedelta(seconds=self.t - self.origin)

    def advance(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)

    async def sleep(self, seconds: float) -> None:
        """Record the wait and pass the time at once."""
        self.slept.append(seconds)
        self.advance(seconds)

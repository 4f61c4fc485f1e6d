"""Shared machinery of the three sandbox emulators: request log, fault injection, rate windows
and access tokens.

Tests assert on the request log (how many calls, which were writes) and switch faults on
through ``Faults`` rather than patching clients, so the clients are exercised exactly as they
will meet the real APIs.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: str
    status: int
    at: float
    body_size: int = 0

    @property
    def is_write(self) -> bool:
        return self.method not in ("GET", "HEAD", "OPTIONS") and not self.path.endswith(
            ("/token", "/search", "/batch/read", "/query")
        )


@dataclass
class Faults:
    """Switchable faults; counters count down as they fire."""

    expire_tokens: bool = False  # every issued token is treated as expired once
    rate_limit_next: int = 0  # answer the next N calls with the vendor's rate-limit error
    server_error_next: int = 0  # answer the next N calls with a 5xx
    slow_seconds: float = 0.0  # delay every response
    fail_record_ids: set[str] = field(default_factory=set)  # per-record failures in batch writes
    fail_after_writes: int | None = None  # after N successful write calls, every write 500s

    def take_rate_limit(self) -> bool:
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            return True
        return False

    def take_server_error(self) -> bool:
        if self.server_error_next > 0:
            self.server_error_next -= 1
            return True
        return False


class RateWindow:
    """Counts calls in a sliding window so the emulator enforces the vendor's published limit."""

    def __init__(
        self, max_calls: int, per_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_calls = max_calls
        self.per_seconds = per_seconds
        self._stamps: deque[float] = deque()
        self._clock = clock
        self.violations = 0

    def hit(self) -> bool:
        """Record a call; False (and a counted violation) when it is over the limit."""
        now = self._clock()
        while self._stamps and now - self._stamps[0] >= self.per_seconds:
            self._stamps.popleft()
        if len(self._stamps) >= self.max_calls:
            self.violations += 1
            return False
        self._stamps.append(now)
        return True


class EmulatorCore:
    def __init__(
        self, vendor: str, max_calls: int, per_seconds: float, max_concurrent: int | None = None
    ) -> None:
        self.vendor = vendor
        self.requests: list[LoggedRequest] = []
        self.faults = Faults()
        self.window = RateWindow(max_calls, per_seconds)
        self.max_concurrent = max_concurrent
        self.in_flight = 0
        self.peak_in_flight = 0
        self.concurrency_violations = 0
        self.tokens: dict[str, float] = {}  # token -> expiry (monotonic)
        self.token_ttl = 3600.0
        self.successful_writes = 0
        self._lock = asyncio.Lock()

    # tokens -------------------------------------------------------------------------------
    def issue_token(self) -> tuple[str, int]:
        token = secrets.token_urlsafe(24)
        self.tokens[token] = time.monotonic() + self.token_ttl
        return token, int(self.token_ttl)

    def token_state(self, header: str | None) -> str:
        """'ok', 'missing', 'invalid' or 'expired' for an ``Authorization: Bearer`` header."""
        if not header or not header.startswith("Bearer "):
            return "missing"
        token = header[7:]
        expiry = self.tokens.get(token)
        if expiry is None:
            return "invalid"
        if self.faults.expire_tokens or expiry < time.monotonic():
            self.tokens.pop(token, None)
            self.faults.expire_tokens = False
            return "expired"
        return "ok"

    # accounting ---------------------------------------------------------------------------
    def log(self, method: str, path: str, query: str, status: int, body_size: int = 0) -> None:
        self.requests.append(
            LoggedRequest(method, path, query, status, time.monotonic(), body_size)
        )

    def enter(self) -> None:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        if self.max_concurrent is not None and self.in_flight > self.max_concurrent:
            self.concurrency_violations += 1

    def leave(self) -> None:
        self.in_flight -= 1

    def write_should_fail(self) -> bool:
        limit = self.faults.fail_after_writes
        return limit is not None and self.successful_writes >= limit

    @property
    def write_requests(self) -> list[LoggedRequest]:
        return [r for r in self.requests if r.is_write]

    async def delay(self) -> None:
        if self.faults.slow_seconds:
            await asyncio.sleep(self.faults.slow_seconds)

    def reset_log(self) -> None:
        self.requests.clear()

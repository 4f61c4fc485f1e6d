"""Faults a test switches on in an emulator, instead of patching a client: the client then meets
them exactly where the real API would produce them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field


@dataclass
class Faults:
    """Switchable faults; counters count down as they fire."""

    expire_tokens: bool = False  # the next call with an issued token finds it expired
    rate_limit_next: int = 0  # answer the next N calls with the vendor's rate-limit error
    retry_after: int = 1  # the wait those rate-limit answers ask for (vendors that say one)
    rate_limit_on: dict[str, int] = field(default_factory=dict)  # aimed, like error_on
    server_error_next: int = 0  # answer the next N calls with a 5xx
    slow_seconds: float = 0.0  # delay every response
    fail_record_ids: set[str] = field(default_factory=set)  # per-record failures in batch writes
    fail_after_writes: int | None = None  # after N successful write calls, every write fails
    # Aimed faults: the next N calls whose request line ("GET /path?query", the query decoded)
    # contains the key answer with a 5xx (``error_on``) or not at all (``timeout_on``: the
    # client times out); every other call passes. So a test breaks one kind of call, e.g. only
    # the compliance floor's consent lookup, and leaves the reads before it alone.
    error_on: dict[str, int] = field(default_factory=dict)
    timeout_on: dict[str, int] = field(default_factory=dict)
    # A write the vendor performs and then answers badly: the next N writes whose request line
    # contains the key change vendor data, then answer with a proxy's 502 (``error_after_on``)
    # or not at all (``timeout_after_on``), so the caller cannot know the write happened.
    error_after_on: dict[str, int] = field(default_factory=dict)
    timeout_after_on: dict[str, int] = field(default_factory=dict)
    # Awaited after every write the vendor performed, before it answers: what a test makes
    # happen at exactly that instant (the audit disk filling up, the process dying).
    after_write: Callable[[], Awaitable[None]] | None = None
    # The next N calls whose request line contains the key are answered with a 302 to another
    # host (a proxy or a hijacked DNS name would), before anything runs.
    redirect_on: dict[str, int] = field(default_factory=dict)
    # The next N calls whose request line contains the key get a 200 that is not the vendor's
    # JSON (``malformed_kind``: "html", a proxy's page; "truncated", JSON cut off), or a 403
    # as a CRM's field-level security or profile answers (``forbidden_on``); nothing runs.
    malformed_on: dict[str, int] = field(default_factory=dict)
    malformed_kind: str = "html"
    forbidden_on: dict[str, int] = field(default_factory=dict)
    # The next N calls whose request line contains the key are refused as invalid input, in
    # the vendor's own envelope, with ``invalid_message`` as the vendor's words (which, like
    # real validation errors, may echo an address or a token back).
    invalid_on: dict[str, int] = field(default_factory=dict)
    invalid_message: str = "Invalid value"
    # The next N calls whose request line contains the key get a 200 of valid JSON that is
    # ``huge_bytes`` long (a runaway export, a proxy's loop): what a size cap must stop.
    huge_on: dict[str, int] = field(default_factory=dict)
    huge_bytes: int = 2_000_000
    # The next N calls whose request line contains the key get the route's real answer with
    # its first record drifted from the schema (``drift_kind``, see ``sandbox.drift``): no id,
    # a boolean as text, the record twice, or a field nobody asked for.
    drift_on: dict[str, int] = field(default_factory=dict)
    drift_kind: str = "no_id"
    # Fields this org does not have (a custom field never created): absent from describe.
    missing_fields: set[str] = field(default_factory=set)

    def take_rate_limit(self, line: str = "") -> bool:
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            return True
        return _take_aimed(self.rate_limit_on, line)

    def take_server_error(self, line: str = "") -> bool:
        if self.server_error_next > 0:
            self.server_error_next -= 1
            return True
        return _take_aimed(self.error_on, line)

    def take_timeout(self, line: str) -> bool:
        return _take_aimed(self.timeout_on, line)

    def take_malformed(self, line: str) -> bool:
        return _take_aimed(self.malformed_on, line)

    def take_forbidden(self, line: str) -> bool:
        return _take_aimed(self.forbidden_on, line)

    def take_drift(self, line: str) -> bool:
        return _take_aimed(self.drift_on, line)

    def take_huge(self, line: str) -> bool:
        return _take_aimed(self.huge_on, line)

    def take_invalid(self, line: str) -> bool:
        return _take_aimed(self.invalid_on, line)

    def take_redirect(self, line: str) -> bool:
        return _take_aimed(self.redirect_on, line)

    def take_timeout_after(self, line: str) -> bool:
        return _take_aimed(self.timeout_after_on, line)

    def take_error_after(self, line: str) -> bool:
        return _take_aimed(self.error_after_on, line)

    def take_expired_token(self) -> bool:
        if self.expire_tokens:
            self.expire_tokens = False
            return True
        return False


def _take_aimed(aimed: dict[str, int], line: str) -> bool:
    for key, left in aimed.items():
        if left > 0 and key in line:
            aimed[key] = left - 1
            return True
    return False

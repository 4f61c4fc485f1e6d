"""What the core needs from the outside world, as narrow interfaces.

Ports belong to the code that uses them: governance declares what it needs, ``storage/``
implements it (SQLite today, PostgreSQL later), and tests pass in-memory fakes. Nothing here
knows a database, so the core stays pure and a second backend never touches a caller.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

from mopsgate.governance.audit_chain import AuditEvent, AuditRecord


class Clock(Protocol):
    """Wall time for what is recorded, monotonic time for what is measured."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


SYSTEM_CLOCK = SystemClock()


class AuditSink(Protocol):
    """The one way anything is written to the audit log."""

    async def append(self, event: AuditEvent, *, count_call: bool = False) -> AuditRecord:
        """Return only once the row is durable and chained; otherwise raise
        :class:`~mopsgate.governance.errors.AuditUnavailable`, and the caller must refuse
        whatever the row was for. ``count_call``: the row is a tool call that counts toward
        its principal's calls per minute, counted in the same transaction (one commit)."""
        ...

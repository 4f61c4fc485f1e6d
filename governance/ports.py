"""What the core needs from the outside world, as narrow interfaces.

Ports belong to the code that uses them: governance declares what it needs, ``storage/``
implements it (SQLite today, PostgreSQL later), and tests pass in-memory fakes. Nothing here
knows a database, so the core stays pure and a second backend never touches a caller.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pydantic import JsonValue

from mopsgate.crm.records import RecordResult
from mopsgate.governance.audit_chain import AuditEvent, AuditRecord
from mopsgate.governance.call_window import WindowCount
from mopsgate.governance.change_model import Approval, Change, ChangeStatus
from mopsgate.governance.change_rules import (
    DEFAULT_LIST_LIMIT,
    Audited,
    FinalStatus,
    Guard,
    RecordBudget,
    Satisfied,
)
from mopsgate.governance.decision_proof import SignedDecision
from mopsgate.governance.freeze import FreezeState
from mopsgate.governance.outbox import OutboxMessage

# A proposal's change is stored before its call's audit row is written. Start-up recovery
# withdraws one whose row never came only once it was stored longer ago than this: another
# process's proposal may still be on its way to the log (within the lock wait, seconds).
PROPOSAL_ROW_GRACE = timedelta(minutes=5)


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


class FreezeSwitch(Protocol):
    """The kill switch every apply reads before it writes, shared by every process."""

    async def state(self) -> FreezeState | None:
        """The freeze in force, or None; read fresh every time."""
        ...

    async def freeze(self, reason: str, by: str, *, at: datetime) -> FreezeState:
        """Once this returns, no apply starts in any process until :meth:`unfreeze`."""
        ...

    async def unfreeze(self, by: str) -> FreezeState | None:
        """Lift the freeze; the one that was lifted, or None if applies were not frozen."""
        ...


class ChangeStore(Protocol):
    """Where changes live. Every state change is one transaction and a compare-and-set on the
    status it read, so of two racing callers (in any process) exactly one wins; a refusal is
    raised after whatever the transaction wrote on the way has committed."""

    async def insert(
        self,
        change: Change,
        *,
        budget: RecordBudget | None = None,
        notify: Sequence[OutboxMessage] = (),
        audited_after: bool = False,
    ) -> Change:
        """Store a fresh proposed change; with ``budget``, the requester's records in the
        last hour are summed in the same transaction (RateLimited over it). ``audited_after``:
        the proposal's audit row is written once this returns; until the audit log holds it
        the change cannot be approved (:meth:`withdraw_unaudited` ends one it never will)."""
        ...

    async def get(self, change_id: str) -> Change | None: ...

    async def require(self, change_id: str) -> Change:
        """The change, or NotFound."""
        ...

    async def list_changes(
        self,
        status: ChangeStatus | None = None,
        requester: str | None = None,
        limit: int = DEFAULT_LIST_LIMIT,
    ) -> list[Change]:
        """Newest first."""
        ...

    async def claim_for_apply(
        self, change_id: str, token_nonce: str, *, now: datetime | None = None, resume: bool = False
    ) -> Change:
        """approved (or failed, with ``resume``) -> applying, with the token's nonce spent and
        the freeze and expiry checked in the same transaction: the single-use guarantee."""
        ...

    async def record_results(
        self,
        change_id: str,
        items: Sequence[tuple[RecordResult, dict[str, JsonValue]]],
        *,
        now: datetime | None = None,
    ) -> None:
        """One vendor batch's outcomes, durable before the next batch is written; a record
        written successfully can never be recorded again."""
        ...

    async def finish_apply(
        self,
        change_id: str,
        status: FinalStatus,
        detail: str | None,
        *,
        now: datetime | None = None,
    ) -> Change: ...

    async def end_apply(self, change_id: str) -> None:
        """This process stops applying the change, however the apply ended (settled, failed,
        or cancelled with its status left ``applying`` for recovery to settle): whatever it
        held to keep other processes off the change is let go now, not when the process
        exits. Never waits on I/O, so it completes even inside a cancelled scope."""
        ...

    async def mark_stale(self, change_id: str, detail: str) -> Change: ...

    async def mark_expired(self, change_id: str) -> Change: ...

    async def cancel(
        self, change_id: str, principal: str, reason: str = "", *, now: datetime | None = None
    ) -> Change:
        """Only the requester, only while proposed or approved."""
        ...

    async def add_approval(
        self,
        change_id: str,
        approval: Approval,
        satisfied: Satisfied,
        guard: Guard,
        *,
        notify: Sequence[OutboxMessage] = (),
        audit: Audited | None = None,
    ) -> Change:
        """Record one approval and, when ``satisfied``, promote to approved, in one
        transaction, with ``audit``'s row when given (AuditUnavailable, nothing stored, when
        the row cannot be written)."""
        ...

    async def reject(
        self,
        change_id: str,
        reviewer: str,
        reason: str,
        guard: Guard,
        *,
        now: datetime | None = None,
        notify: Sequence[OutboxMessage] = (),
        proof: SignedDecision | None = None,
        audit: Audited | None = None,
    ) -> Change:
        """proposed or approved -> rejected, with the reviewer's signed statement (if any),
        and ``audit``'s row in the same transaction when given."""
        ...

    async def expire_due(self, now: datetime | None = None) -> list[str]: ...

    async def written_refs(self, change_id: str) -> set[str]:
        """References the change wrote successfully (what a revert may undo)."""
        ...

    async def records_proposed_last_hour(
        self, requester: str, now: datetime | None = None
    ) -> int: ...

    async def link_revert(self, original_id: str, revert_id: str) -> Change: ...

    async def link_finish(self, original_id: str, finish_id: str) -> Change: ...

    async def withdraw_unaudited(
        self, change_id: str, reason: str, audit: Audited, *, now: datetime | None = None
    ) -> Change | None:
        """proposed -> cancelled (withdrawn, for ``reason``) with ``audit``'s row in the same
        transaction, if the change was stored ``audited_after`` and the audit log holds no row
        of the call that proposed it; None when it does, or the change has moved on.
        AuditUnavailable (nothing changed) when the row cannot be written."""
        ...

    async def unaudited_ids(self, created_before: datetime) -> list[str]:
        """Proposed changes stored ``audited_after`` before ``created_before`` whose proposing
        call has no row in the audit log."""
        ...

    async def interrupted_ids(self) -> list[str]:
        """Changes left applying (at start-up: by a process that died mid-apply)."""
        ...

    async def frozen(self) -> FreezeState | None: ...

    async def ensure_not_frozen(self) -> None:
        """Raise Frozen while applies are frozen."""
        ...


class RateWindows(Protocol):
    """Calls per minute, shared by every process: the calls whose audit rows are committed
    (``AuditSink.append(count_call=True)`` counts them in the same transaction)."""

    async def count_calls(self, principal: str, now: float) -> WindowCount:
        """Committed calls of ``principal`` in the minute before ``now`` (epoch seconds)."""
        ...

    def count_calls_many(
        self, principals: Sequence[str], now: float
    ) -> Awaitable[dict[str, WindowCount]]:
        """:meth:`count_calls` of each principal, read in one snapshot: the calls admitted
        together in a burst cost one read, not one each. A backend may start the read before
        it returns (SQLite hands it to its thread at once), so the caller checks the call
        while it is under way."""
        ...

"""The change-store verbs that read the same on every backend.

Each verb only names a state transition and packs it as one unit of work; what a unit does
(SQL, locking) is the backend's. Keeping the verbs here means a new rule for, say, cancelling
is written once and cannot drift between SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from mopsgate.governance import change_rules as rules
from mopsgate.governance.change_model import Approval, Change, ChangeStatus, Decision, utcnow
from mopsgate.governance.change_rules import Audited, Guard, Satisfied
from mopsgate.governance.decision_proof import SignedDecision
from mopsgate.governance.errors import AuditUnavailable
from mopsgate.governance.outbox import OutboxMessage
from mopsgate.storage.errors import StorageUnavailable

S = ChangeStatus


def or_now(now: datetime | None) -> datetime:
    return now if now is not None else utcnow()


@dataclass(frozen=True)
class ChangeUnits:
    """A backend's units of work, called with the connection first and keywords after."""

    transition: Callable[..., Any]
    add_approval: Callable[..., Any]
    reject: Callable[..., Any]
    link: Callable[..., Any]


class ChangeVerbs:
    """Mixed into a backend's change store, which supplies ``_units``, ``_write`` (one unit in
    one transaction, returning the changed :class:`Change`) and ``records_proposed_since``."""

    _units: ChangeUnits

    async def _write(self, unit: partial[Any]) -> Change:
        raise NotImplementedError

    def _audit_unavailable(self, exc: StorageUnavailable) -> AuditUnavailable:
        """The failure of a unit that carried an audit row, as the caller is told it."""
        raise NotImplementedError

    async def _write_audited(self, unit: partial[Any], audit: Audited | None) -> Change:
        """A decision's unit with its audit row: they commit together or not at all, so a
        decision can never stand without its row (fail closed)."""
        try:
            return await self._write(partial(unit, audit=audit))
        except StorageUnavailable as exc:
            if audit is None:
                raise
            raise self._audit_unavailable(exc) from exc

    async def records_proposed_since(self, requester: str, since: datetime) -> int:
        raise NotImplementedError

    async def mark_stale(self, change_id: str, detail: str) -> Change:
        """Stale before any write (token bound to an old manifest, or a target drifted)."""
        patch = {"status_detail": detail}
        unit = partial(
            self._units.transition, change_id=change_id, target=S.STALE, action="marked stale"
        )
        return await self._write(partial(unit, patch=patch))

    async def mark_expired(self, change_id: str) -> Change:
        unit = partial(
            self._units.transition, change_id=change_id, target=S.EXPIRED, action="expired"
        )
        return await self._write(partial(unit, patch={"status_detail": "expired"}))

    async def cancel(
        self, change_id: str, principal: str, reason: str = "", *, now: datetime | None = None
    ) -> Change:
        patch = {"cancellation": Decision(by=principal, reason=reason, at=or_now(now))}
        unit = partial(
            self._units.transition, change_id=change_id, target=S.CANCELLED, action="cancelled"
        )
        guard = rules.only_requester(change_id, principal)
        return await self._write(partial(unit, patch=patch, guard=guard))

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
        unit = partial(self._units.add_approval, change_id=change_id, approval=approval)
        return await self._write_audited(
            partial(unit, satisfied=satisfied, guard=guard, notify=notify), audit
        )

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
        unit = partial(self._units.reject, change_id=change_id, reviewer=reviewer, reason=reason)
        return await self._write_audited(
            partial(unit, guard=guard, now=or_now(now), notify=notify, proof=proof), audit
        )

    async def records_proposed_last_hour(self, requester: str, now: datetime | None = None) -> int:
        return await self.records_proposed_since(requester, or_now(now) - timedelta(hours=1))

    async def link_revert(self, original_id: str, revert_id: str) -> Change:
        unit = partial(self._units.link, original_id=original_id, field="reverted_by")
        return await self._write(partial(unit, follow_up_id=revert_id))

    async def link_finish(self, original_id: str, finish_id: str) -> Change:
        unit = partial(self._units.link, original_id=original_id, field="finished_by")
        return await self._write(partial(unit, follow_up_id=finish_id))

"""The exception-store verbs that read the same on every backend (as ``change_verbs`` for
changes): each writes one unit in one transaction, with its audit row when it carries one, so
a grant, a revocation or a lapse is stored with its row or not at all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.errors import AuditUnavailable
from mopsgate.governance.waiver_statement import SignedWaiver
from mopsgate.governance.waivers import Waiver
from mopsgate.storage.errors import StorageUnavailable


@dataclass(frozen=True)
class ExceptionUnits:
    """A backend's units of work, called with the connection first and keywords after."""

    grant: Callable[..., Any]
    revoke: Callable[..., Any]
    record_lapses: Callable[..., Any]


class ExceptionVerbs:
    """Mixed into a backend's exception store, which supplies ``_units``, ``_write`` (one unit
    in one transaction) and ``_audit_unavailable``."""

    _units: ExceptionUnits

    async def _write(self, unit: partial[Any]) -> Any:
        raise NotImplementedError

    def _audit_unavailable(self, exc: StorageUnavailable) -> AuditUnavailable:
        raise NotImplementedError

    async def _audited(self, unit: partial[Any]) -> Any:
        try:
            return await self._write(unit)
        except StorageUnavailable as exc:
            raise self._audit_unavailable(exc) from exc

    async def grant(self, waiver: Waiver, *, audit: AuditEvent | None = None) -> None:
        await self._audited(partial(self._units.grant, waiver=waiver, audit=audit))

    async def revoke(
        self, signed: SignedWaiver, *, audit: AuditEvent | None = None
    ) -> Waiver | None:
        done: Waiver | None = await self._audited(
            partial(self._units.revoke, signed=signed, audit=audit)
        )
        return done

    async def record_lapses(
        self, now: datetime, event: Callable[[Waiver], AuditEvent]
    ) -> list[Waiver]:
        written: list[Waiver] = await self._audited(
            partial(self._units.record_lapses, now=now, event=event)
        )
        return written

"""The storage ports the server side uses, and :class:`Storage`, everything one backend opens.

The core's own ports (``AuditSink``, and the change store and freeze switch) are declared in
``governance/ports.py``; these are the ones only the server and the CLI need. Every method is
async and every backend implements the same ones, so callers never know which database is
underneath (SQLite today, PostgreSQL in #12).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from mopsgate.governance.audit_chain import AuditHead, AuditRow, VerifyResult
from mopsgate.governance.ports import AuditSink


class AuditReader(Protocol):
    """Read the audit log without any chance of writing it."""

    async def head(self) -> AuditHead:
        """The last row's seq and hash: the checkpoint to keep where the server cannot write."""
        ...

    async def tail(self, n: int) -> list[AuditRow]:
        """The last ``n`` rows, oldest first."""
        ...

    def rows(self, after_seq: int = 0) -> AsyncIterator[AuditRow]:
        """Every row with seq > ``after_seq``, in order, streamed."""
        ...

    async def verify(self, *, workers: int | None = None) -> VerifyResult:
        """Check the whole chain and name the first bad row."""
        ...


class Storage(Protocol):
    """One open backend: the ports, and ``close``."""

    @property
    def audit(self) -> AuditSink: ...

    @property
    def audit_reader(self) -> AuditReader: ...

    async def close(self) -> None: ...

"""The storage ports the server side uses, and :class:`Storage`, everything one backend opens.

The core's own ports (``AuditSink``, and the change store and freeze switch) are declared in
``governance/ports.py``; these are the ones only the server and the CLI need. Every method is
async and every backend implements the same ones, so callers never know which database is
underneath (SQLite today, PostgreSQL in #12).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Protocol

from mopsgate.governance.audit_chain import AuditHead, AuditRow, VerifyResult
from mopsgate.governance.bearer_tokens import IssuedToken, TokenRecord
from mopsgate.governance.call_window import WindowCount
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


class TokenStore(Protocol):
    """Bearer tokens, stored by hash, and a generation that moves on every change."""

    async def create(
        self, principal: str, *, label: str, expires_at: datetime | None, now: datetime
    ) -> IssuedToken:
        """A new token for ``principal``; the token itself is in the result only."""
        ...

    async def lookup(self, token_hash: str) -> TokenRecord | None:
        """The record of a token by its hash (revoked and expired ones included)."""
        ...

    async def revoke_principal(self, principal: str) -> int:
        """Revoke every live token of ``principal``; how many were revoked. Once this returns,
        :meth:`generation` has moved in every process."""
        ...

    async def generation(self) -> str | None:
        """Changes whenever any process creates or revokes a token; cheap enough to ask on
        every request. None when it cannot be told: callers must then not trust a cache."""
        ...


class RateWindows(Protocol):
    """Calls per minute, shared by every process: the calls whose audit rows are committed
    (``AuditSink.append(count_call=True)`` counts them in the same transaction)."""

    async def count_calls(self, principal: str, now: float) -> WindowCount:
        """Committed calls of ``principal`` in the minute before ``now`` (epoch seconds)."""
        ...


class Storage(Protocol):
    """One open backend: the ports, and ``close``."""

    @property
    def audit(self) -> AuditSink: ...

    @property
    def audit_reader(self) -> AuditReader: ...

    @property
    def tokens(self) -> TokenStore: ...

    @property
    def rates(self) -> RateWindows: ...

    async def close(self) -> None: ...

"""The storage ports the server side uses, and :class:`Storage`, everything one backend opens.

The ports the core and the pipeline use (``AuditSink``, ``ChangeStore``, ``FreezeSwitch``,
``RateWindows``) are declared in ``governance/ports.py``; these are the ones only the server
and the CLI need. Every method is
async and every backend implements the same ones, so callers never know which database is
underneath (SQLite today, PostgreSQL in #12).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from mopsgate.governance.audit_chain import AuditEvent, AuditHead, AuditRow, VerifyResult
from mopsgate.governance.audit_query import AuditQuery
from mopsgate.governance.bearer_tokens import IssuedToken, TokenRecord
from mopsgate.governance.manifest_history import ManifestLoad
from mopsgate.governance.outbox import OutboxItem, OutboxMessage, QueuedMessage, Settlement
from mopsgate.governance.ports import AuditSink, ChangeStore, FreezeSwitch, RateWindows
from mopsgate.governance.progress import Progress
from mopsgate.governance.reviewer_invites import Invite
from mopsgate.governance.waiver_statement import SignedWaiver
from mopsgate.governance.waivers import Waiver


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

    def query(self, query: AuditQuery) -> AsyncIterator[AuditRow]:
        """The rows matching every filter of ``query``, in seq order, streamed."""
        ...

    async def verify(
        self, *, workers: int | None = None, progress: Progress | None = None
    ) -> VerifyResult:
        """Check the whole chain and name the first bad row; ``progress`` hears of the rows
        checked as the check goes."""
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


class ManifestHistory(Protocol):
    """Every manifest version that came into force or was refused (#10)."""

    async def record(self, load: ManifestLoad, text: str) -> None:
        """Keep one load; the text is stored once per digest."""
        ...

    async def versions(self, *, since: datetime | None = None) -> list[ManifestLoad]:
        """Loads at or after ``since``, oldest first."""
        ...

    async def text(self, digest: str) -> str | None: ...


class Outbox(Protocol):
    """Messages to send after a state change, at least once (#14). Stores that change state
    queue theirs in the same transaction (``notify=``); this is for everything else and for
    the sender."""

    async def enqueue(self, messages: Sequence[OutboxMessage], *, now: datetime) -> int:
        """Queue messages (a key already queued is kept as it was); how many were new."""
        ...

    async def claim_due(self, now: datetime, *, limit: int, lease: timedelta) -> list[OutboxItem]:
        """Up to ``limit`` unsent messages due at ``now`` and not leased by another sender,
        oldest first, leased until ``now + lease``. Two senders never hold the same message."""
        ...

    async def sent(self, item_id: int, at: datetime) -> None: ...

    async def retry_later(self, item_id: int, at: datetime, error: str) -> None:
        """Release the lease; due again at ``at``, with the error kept for the operator."""
        ...

    async def settle(self, settlements: Sequence[Settlement], *, at: datetime) -> None:
        """:meth:`sent` (at ``at``) or :meth:`retry_later` for each, in one transaction: a
        sender's whole pass costs one commit, not one per message."""
        ...

    async def has_due(self, now: datetime) -> bool:
        """Whether :meth:`claim_due` would find anything: a read, so an idle sender polling
        every second never takes the write lock a long apply needs."""
        ...

    async def unsent(self, *, limit: int) -> list[QueuedMessage]:
        """Messages not yet sent, pending and parked, oldest first (a read)."""
        ...

    async def requeue(self, ids: Sequence[int] | None, *, now: datetime) -> list[int]:
        """Make unsent messages due at ``now`` with a fresh give-up window and attempts
        counted afresh (the last error stays: ``OutboxItem.requeued``): those in ``ids``, or
        every parked one when ``ids`` is None. Returns the ids requeued (unknown and
        already-sent ids are left out)."""
        ...


class ReviewerInvites(Protocol):
    """One-time passkey enrolment links (``governance/reviewer_invites.py``), by token hash."""

    async def create(self, invite: Invite) -> None: ...

    async def find(self, token_hash: str) -> Invite | None: ...

    async def use(self, token_hash: str, *, at: datetime, credential: str) -> Invite | None:
        """Mark the invite used by the enrolment of ``credential`` (a key fingerprint), if it is
        unused and unexpired at ``at``; of two racing uses exactly one gets the invite back."""
        ...


class Exceptions(Protocol):
    """Time-boxed exceptions (``governance/waivers.py``): granted, revoked at most once, never
    deleted (expired ones stay for the report)."""

    async def grant(self, waiver: Waiver, *, audit: AuditEvent | None = None) -> None:
        """Store a grant, with ``audit``'s row in the same transaction when given (neither is
        stored when the row cannot be written: AuditUnavailable)."""
        ...

    async def revoke(
        self, signed: SignedWaiver, *, audit: AuditEvent | None = None
    ) -> Waiver | None:
        """Record the signed revocation of the exception it names, unless that exception is
        already revoked (then None: of two racing revocations one wins); ``audit`` as for
        :meth:`grant`."""
        ...

    async def record_lapses(
        self, now: datetime, event: Callable[[Waiver], AuditEvent]
    ) -> list[Waiver]:
        """Write ``event``'s row for every exception that has lapsed by ``now`` (expired, not
        revoked before) and has none yet, checked and written in one transaction: however
        many processes notice, each lapse is in the log once. The ones written now."""
        ...

    async def get(self, waiver_id: str) -> Waiver | None: ...

    async def all(self) -> list[Waiver]:
        """Every exception ever granted, oldest first."""
        ...


class Storage(Protocol):
    """One open backend: the ports, and ``close``."""

    @property
    def audit(self) -> AuditSink: ...

    @property
    def audit_reader(self) -> AuditReader: ...

    @property
    def changes(self) -> ChangeStore: ...

    @property
    def freeze(self) -> FreezeSwitch: ...

    @property
    def tokens(self) -> TokenStore: ...

    @property
    def rates(self) -> RateWindows: ...

    @property
    def manifests(self) -> ManifestHistory: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def invites(self) -> ReviewerInvites: ...

    @property
    def exceptions(self) -> Exceptions: ...

    async def close(self) -> None: ...

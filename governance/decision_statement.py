"""What a reviewer signs: one decision on one exact plan, as canonical bytes.

A typed name proves nothing; a signature over these bytes does. The statement names the change,
the digest of the plan the reviewer saw, the digest of the manifest in force (which declares the
reviewer's key), the decision, the note (or rejection reason), the checklist answers and the
time. Change any of them — a different plan, a later manifest, an edited note — and the
signature stops matching. The bytes are versioned and domain-separated, so a signature made for
a statement can never be passed off as a signature over anything else the same key signs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

DOMAIN = b"mopsgate decision statement v1\n"
MAX_NOTE = 2000
MAX_ANSWER = 200
Verdict = Literal["approve", "reject"]


STATEMENT_AT = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$"


class SignedStatement(BaseModel):
    """What every statement a reviewer signs shares (decisions, exceptions, manifest changes):
    its time as text, and its signed bytes under its own domain, so a signature over one kind
    can never be passed off as another."""

    # Built at first use, as its subclasses are: building it at import compiled the time
    # pattern for every process, ~45 ms of a `serve` start that never signs anything.
    model_config = ConfigDict(defer_build=True)

    domain: ClassVar[bytes]
    at: str = Field(pattern=STATEMENT_AT)

    @property
    def time(self) -> datetime:
        return datetime.fromisoformat(self.at)

    def canonical(self) -> bytes:
        """The exact bytes that are signed."""
        return canonical_bytes(self.domain, self)


class DecisionStatement(SignedStatement):
    """Every field is text, so the canonical form never depends on how a library serialises
    dates or numbers: a statement signed today still verifies with tomorrow's pydantic."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    domain: ClassVar[bytes] = DOMAIN

    v: Literal[1] = 1
    change_id: str = Field(min_length=1, max_length=64)
    plan_digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    manifest_digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    decision: Verdict
    reviewer: str = Field(min_length=1, max_length=100)
    note: str = Field(default="", max_length=MAX_NOTE)
    checklist: dict[str, str] = Field(default_factory=dict)

    def digest(self) -> bytes:
        """sha256 of :meth:`canonical`: what a passkey signs, as its WebAuthn challenge."""
        return hashlib.sha256(self.canonical()).digest()

    def digest_hex(self) -> str:
        return self.digest().hex()


def canonical_bytes(domain: bytes, statement: BaseModel) -> bytes:
    """A statement as signed: its domain, then its fields as compact JSON with sorted keys."""
    body = json.dumps(
        statement.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return domain + body.encode("utf-8")


def statement_time(at: datetime) -> str:
    """A decision's time as it is signed: UTC, whole seconds."""
    return at.astimezone(UTC).replace(microsecond=0).isoformat()


def new_statement(
    *,
    change_id: str,
    plan_digest: str,
    manifest_digest: str,
    decision: Verdict,
    reviewer: str,
    note: str,
    checklist: Mapping[str, str],
    at: datetime,
) -> DecisionStatement:
    return DecisionStatement(
        change_id=change_id,
        plan_digest=plan_digest,
        manifest_digest=manifest_digest,
        decision=decision,
        reviewer=reviewer,
        note=note,
        checklist=dict(checklist),
        at=statement_time(at),
    )

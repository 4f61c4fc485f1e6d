"""A reviewer's signed approval of one manifest change, and whether enough of them are in hand.

A widening edit of the manifest (``manifest_widening``) takes effect only when reviewers have
approved exactly that change: the statement names the digest of the manifest in force and the
digest of the new one, so an approval of another edit, or of the same edit on top of another
manifest, counts for nothing. Each approval is signed with a key that the manifest *in force*
declares for the reviewer: keys or reviewers the new version adds cannot approve it, or
whoever can write the file could approve their own edit. ``[manifest_changes] approvals`` (the
higher of the two versions') says how many distinct reviewers must approve (CM-5(4)).

The bytes are domain-separated from decision and exception statements, so a signature over one
kind can never be passed off as another.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.decision_proof import Ed25519Proof, ProofError, verify_ed25519
from mopsgate.governance.decision_statement import SignedStatement, statement_time
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.public_keys import ed25519_fingerprint
from mopsgate.governance.reviewer_proof import MAX_SKEW, declared_keys, key_owner

DOMAIN = b"mopsgate manifest change approval v1\n"
# An approval is of a change about to be made; one older than this is not evidence that anyone
# still wants it (the same edit made again months later needs approving again).
VALID_FOR = timedelta(days=14)
_DIGEST = r"^[0-9a-f]{64}$"


class ManifestApprovalStatement(SignedStatement):
    """Every field is text, like a decision statement, so the signed bytes never depend on how
    a library serialises dates."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    domain: ClassVar[bytes] = DOMAIN

    v: Literal[1] = 1
    old_digest: str = Field(pattern=_DIGEST)
    new_digest: str = Field(pattern=_DIGEST)
    reviewer: str = Field(min_length=1, max_length=100)


class SignedManifestApproval(BaseModel):
    """A statement and its Ed25519 proof, as the approval's audit row keeps it."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    statement: ManifestApprovalStatement
    proof: Ed25519Proof


def new_statement(
    old_digest: str, new_digest: str, reviewer: str, at: datetime
) -> ManifestApprovalStatement:
    return ManifestApprovalStatement(
        old_digest=old_digest, new_digest=new_digest, reviewer=reviewer, at=statement_time(at)
    )


def sign_approval(
    statement: ManifestApprovalStatement, key: Ed25519PrivateKey
) -> SignedManifestApproval:
    from mopsgate.governance.reviewer_keys import public_key_text  # the CLI's path only

    signature = base64.b64encode(key.sign(statement.canonical())).decode("ascii")
    proof = Ed25519Proof(public_key=public_key_text(key), signature=signature)
    return SignedManifestApproval(statement=statement, proof=proof)


def approval_problem(
    in_force: Manifest,
    old_digest: str,
    new_digest: str,
    signed: SignedManifestApproval,
    now: datetime,
) -> str | None:
    """Why ``signed`` does not approve the change ``old_digest`` → ``new_digest`` under the
    manifest in force; None when it does."""
    st = signed.statement
    if (st.old_digest, st.new_digest) != (old_digest, new_digest):
        return (
            f"{st.reviewer}'s approval is of {st.old_digest[:12]} -> {st.new_digest[:12]}, "
            f"not of {old_digest[:12]} -> {new_digest[:12]}"
        )
    declared = declared_keys(in_force, st.reviewer)
    if not declared:
        return f"{st.reviewer} has no key declared in the manifest in force"
    fingerprint = ed25519_fingerprint(signed.proof.public_key)
    if fingerprint not in declared:
        owner = key_owner(in_force, fingerprint)
        whose = f"{owner}'s" if owner else "declared for no reviewer in the manifest in force"
        return f"{st.reviewer}'s approval is signed with key {fingerprint}, {whose}"
    try:
        verify_ed25519(signed.proof, st.canonical())
    except (ProofError, ValueError, TypeError) as exc:
        return f"{st.reviewer}'s approval has an invalid signature ({exc})"
    if not now - VALID_FOR <= st.time <= now + MAX_SKEW:
        return f"{st.reviewer}'s approval of {st.at} is not within {VALID_FOR.days} days of now"
    return None


TOOL = "manifest approve"  # the audit rows that carry approvals


def approval_event(signed: SignedManifestApproval, changes: list[str]) -> AuditEvent:
    """The audit row that records (and carries) an approval. The signed approval travels
    hex-encoded: the writer masks anything that looks like a phone number or a secret-named
    key, which would break a signature kept as plain JSON."""
    st = signed.statement
    return AuditEvent(
        kind="review",
        principal=st.reviewer,
        transport="cli",
        tool=TOOL,
        arguments={
            "old_digest": st.old_digest,
            "new_digest": st.new_digest,
            "widens": changes[:50],
            "approval": signed.model_dump_json().encode("utf-8").hex(),
        },
        decision="allowed",
        outcome="ok",
        manifest_digest=st.old_digest,
        reason=f"approved manifest change {st.old_digest[:12]} -> {st.new_digest[:12]}",
        result_summary=f"{st.old_digest[:12]} -> {st.new_digest[:12]}",
    )


def approval_from_row(arguments: str) -> SignedManifestApproval | None:
    """The signed approval an audit row carries, or None when the row carries none that
    parses (a forged or damaged row proves nothing; the signature is checked later)."""
    try:
        data = json.loads(arguments)
        blob = bytes.fromhex(str(data["approval"])).decode("utf-8")
        return SignedManifestApproval.model_validate_json(blob)
    except (ValueError, KeyError, TypeError, ValidationError):
        return None


@dataclass
class ApprovalTally:
    """The approvals of one change that count, and why the others do not."""

    required: int
    approvers: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def approved(self) -> bool:
        return len(self.approvers) >= self.required

    def describe(self) -> str:
        have = f"{len(self.approvers)} of {self.required} approval(s)"
        by = f" ({', '.join(self.approvers)})" if self.approvers else ""
        return have + by


def required_approvals(in_force: Manifest, new: Manifest) -> int:
    """The higher of the two versions' settings: raising it takes effect for the very edit
    that raises it, and lowering it needs the old number."""
    return max(in_force.manifest_changes.approvals, new.manifest_changes.approvals)


def tally(
    in_force: Manifest,
    new: Manifest,
    old_digest: str,
    new_digest: str,
    approvals: Iterable[SignedManifestApproval],
    now: datetime,
) -> ApprovalTally:
    """Count the distinct reviewers whose approval of exactly this change holds."""
    out = ApprovalTally(required=required_approvals(in_force, new))
    for signed in approvals:
        if (signed.statement.old_digest, signed.statement.new_digest) != (old_digest, new_digest):
            continue
        problem = approval_problem(in_force, old_digest, new_digest, signed, now)
        if problem is not None:
            out.problems.append(problem)
        elif signed.statement.reviewer not in out.approvers:
            out.approvers.append(signed.statement.reviewer)
    return out

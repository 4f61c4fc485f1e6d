"""What a reviewer signs to grant or revoke a time-boxed exception, and how it is checked.

An exception widens what a use case may do for a while, so it needs the same proof as an
approval: a statement naming exactly what is waived, for which use case, until when, under
which ticket and manifest, signed with a key the manifest in force declares for the reviewer.
The bytes are domain-separated from decision statements (``decision_statement.DOMAIN``), so a
signature over one can never be passed off as the other.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import ClassVar, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ConfigDict, Field

from mopsgate.governance.decision_proof import Ed25519Proof
from mopsgate.governance.decision_statement import STATEMENT_AT, SignedStatement
from mopsgate.governance.errors import NotPermitted
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.public_keys import ed25519_fingerprint, ed25519_raw
from mopsgate.governance.reviewer_proof import MAX_AGE, MAX_SKEW, declared_keys, key_owner

DOMAIN = b"mopsgate exception statement v1\n"
WaiverAction = Literal["grant", "revoke"]


class WaiverStatement(SignedStatement):
    """Every field is text, like a decision statement, so the signed bytes never depend on how
    a library serialises dates."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    domain: ClassVar[bytes] = DOMAIN

    v: Literal[1] = 1
    action: WaiverAction
    exception_id: str = Field(min_length=1, max_length=64)
    use_case: str = Field(min_length=1, max_length=100)
    what: str = Field(min_length=1, max_length=200)
    expires_at: str = Field(pattern=STATEMENT_AT)
    ticket: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)
    reviewer: str = Field(min_length=1, max_length=100)
    manifest_digest: str = Field(pattern=r"^[0-9a-f]{64}$")


class SignedWaiver(BaseModel):
    """A statement and its Ed25519 proof, stored with the exception (``--key`` signing only:
    the console does not grant exceptions)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    statement: WaiverStatement
    proof: Ed25519Proof


def sign_waiver(statement: WaiverStatement, key: Ed25519PrivateKey) -> SignedWaiver:
    from mopsgate.governance.reviewer_keys import public_key_text  # the CLI's path only

    signature = base64.b64encode(key.sign(statement.canonical())).decode("ascii")
    proof = Ed25519Proof(public_key=public_key_text(key), signature=signature)
    return SignedWaiver(statement=statement, proof=proof)


def _refuse(message: str, code: str, hint: str = "") -> NotPermitted:
    return NotPermitted(message, hint=hint, details={"reason_code": code})


def verify_waiver_signature(signed: SignedWaiver) -> None:
    """Refuse (NotPermitted, ``bad_signature``) unless the proof is a valid signature over the
    statement: what granting checks, and what ``audit verify`` re-checks on stored ones."""
    # Imported here, as in public_keys: the server reaches this module (stored exceptions are
    # typed by it) on its start-up path without ever checking a signature.
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(ed25519_raw(signed.proof.public_key))
        key.verify(
            base64.b64decode(signed.proof.signature, validate=True), signed.statement.canonical()
        )
    except (InvalidSignature, binascii.Error, ValueError) as exc:
        raise _refuse(
            "the exception's signature does not match its statement (wrong key, or the "
            "statement was altered)",
            "bad_signature",
        ) from exc


def check_signed_waiver(
    manifest: Manifest, manifest_digest: str, signed: SignedWaiver, now: datetime
) -> None:
    """Refuse (NotPermitted with a reason code) unless the statement is signed with a key the
    manifest in force declares for its reviewer, names that manifest, and was signed just now."""
    st = signed.statement
    declared = declared_keys(manifest, st.reviewer)
    if not declared:
        raise _refuse(
            f"{st.reviewer} has no key declared in the manifest, so no exception can be proved "
            "to be theirs",
            "no_credential",
            hint=f"run `mopsgate reviewer keygen --reviewer {st.reviewer}` and have the "
            "manifest owner declare the printed key",
        )
    fingerprint = ed25519_fingerprint(signed.proof.public_key)
    if fingerprint not in declared:
        owner = key_owner(manifest, fingerprint)
        whose = f"{owner}'s" if owner else "not declared for anyone"
        raise _refuse(
            f"the key {fingerprint} is {whose}, not {st.reviewer}'s", "unknown_key", "sign with "
            "your own declared key"
        )  # fmt: skip
    verify_waiver_signature(signed)
    if st.manifest_digest != manifest_digest:
        raise _refuse(
            "the signed statement names another manifest than the one in force",
            "manifest_digest_mismatch",
            hint="sign again under the current manifest",
        )
    if not now - MAX_AGE <= st.time <= now + MAX_SKEW:
        raise _refuse(
            f"the signed statement's time {st.at} is not within {MAX_AGE} of now",
            "statement_expired",
            hint="sign again (and check this machine's clock)",
        )

"""The proof that goes with a decision statement, and how anyone checks it later.

Two kinds, one rule: the signature is over the statement and nothing else.

* ``ed25519`` (the CLI): an Ed25519 signature over the statement's canonical bytes.
* ``passkey`` (the console): a WebAuthn assertion whose challenge is the statement's sha256, so
  the assertion itself is the signature — the authenticator signs ``authenticatorData ||
  sha256(clientDataJSON)`` and clientDataJSON carries the challenge. It is checked with
  py_webauthn exactly as at login: challenge, origin, RP ID, user presence and verification.

A proof carries the public key it was made with, so it can be re-verified years later without
the manifest; whether that key was the reviewer's at the time is a separate question, answered
against the manifest the statement names (``governance.reviewer_proof``).
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mopsgate.governance.decision_statement import DecisionStatement
from mopsgate.governance.public_keys import (
    ed25519_fingerprint,
    ed25519_raw,
    passkey_fingerprint,
    passkey_key_raw,
)


class ProofError(ValueError):
    """The proof does not verify; the message says which check failed."""


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Ed25519Proof(_Data):
    method: Literal["ed25519"] = "ed25519"
    public_key: str  # "ed25519:" + base64 of the 32 raw bytes, as declared in the manifest
    signature: str  # base64 of the 64-byte signature


class PasskeyProof(_Data):
    method: Literal["passkey"] = "passkey"
    credential_id: str  # base64url, as declared in the manifest
    public_key: str  # base64url of the COSE key, as declared in the manifest
    authenticator_data: str  # base64url
    client_data_json: str  # base64url
    signature: str  # base64url
    user_handle: str | None = None
    rp_id: str
    origin: str


Proof = Annotated[Ed25519Proof | PasskeyProof, Field(discriminator="method")]


class SignedDecision(_Data):
    """A statement and its proof: what is stored with the change and checked by audit verify."""

    statement: DecisionStatement
    proof: Proof

    @property
    def fingerprint(self) -> str:
        return proof_fingerprint(self.proof)


def proof_fingerprint(proof: Ed25519Proof | PasskeyProof) -> str:
    if isinstance(proof, Ed25519Proof):
        return ed25519_fingerprint(proof.public_key)
    return passkey_fingerprint(proof.public_key)


def verify_proof(signed: SignedDecision) -> None:
    """Raise :class:`ProofError` unless the proof is a valid signature over the statement."""
    proof = signed.proof
    try:
        if isinstance(proof, Ed25519Proof):
            _verify_ed25519(proof, signed.statement)
        else:
            _verify_passkey(proof, signed.statement)
    except ProofError:
        raise
    except (ValueError, TypeError, binascii.Error) as exc:  # malformed encodings
        raise ProofError(f"the proof is malformed ({exc})") from exc


def _verify_ed25519(proof: Ed25519Proof, statement: DecisionStatement) -> None:
    verify_ed25519(proof, statement.canonical())


def verify_ed25519(proof: Ed25519Proof, signed_bytes: bytes) -> None:
    """Raise :class:`ProofError` unless ``proof`` is a valid signature over ``signed_bytes``
    (any statement's canonical bytes: each kind has its own domain prefix)."""
    try:
        key = Ed25519PublicKey.from_public_bytes(ed25519_raw(proof.public_key))
        signature = base64.b64decode(proof.signature, validate=True)
        key.verify(signature, signed_bytes)
    except (InvalidSignature, binascii.Error) as exc:
        raise ProofError(
            "the signature does not match the statement (wrong key, or the statement or the "
            "signature was altered)"
        ) from exc


def _verify_passkey(proof: PasskeyProof, statement: DecisionStatement) -> None:
    # Imported here: py_webauthn is slow to import and the server's start-up path reaches this
    # module (stored decisions are typed by it) without ever checking a passkey.
    from webauthn import verify_authentication_response
    from webauthn.helpers.exceptions import WebAuthnException

    response: dict[str, str] = {
        "authenticatorData": proof.authenticator_data,
        "clientDataJSON": proof.client_data_json,
        "signature": proof.signature,
    }
    if proof.user_handle:
        response["userHandle"] = proof.user_handle
    credential = {
        "id": proof.credential_id,
        "rawId": proof.credential_id,
        "type": "public-key",
        "response": response,
    }
    try:
        verify_authentication_response(
            credential=credential,
            expected_challenge=statement.digest(),
            expected_rp_id=proof.rp_id,
            expected_origin=proof.origin,
            credential_public_key=passkey_key_raw(proof.public_key),
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except (WebAuthnException, ValidationError) as exc:
        raise ProofError(f"the passkey assertion does not verify: {exc}") from exc

"""The three WebAuthn ceremonies of the console, on py_webauthn: enrol, log in, decide.

* Enrol (from a one-time invite): a discoverable credential with user verification; the result
  is the ``[[reviewers.<name>.passkeys]]`` table the manifest owner declares. Until declared it
  opens nothing.
* Log in: any passkey of this RP (no user name typed); the credential must be declared in the
  manifest in force, and its user handle must be the one enrolment gave that reviewer.
* Decide: the challenge is the sha256 of the decision statement, so the assertion signs the
  statement (``governance.decision_proof``). Only the reviewer's own declared passkeys are
  allowed.

Each ceremony's challenge is kept server-side in the session and used once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import webauthn
from webauthn.helpers import bytes_to_base64url, options_to_json, structs
from webauthn.helpers.exceptions import WebAuthnException

from mopsgate.governance.decision_proof import PasskeyProof
from mopsgate.governance.manifest_model import Manifest, ReviewerPasskey

RP_NAME = "mopsgate review console"
UV = structs.UserVerificationRequirement.REQUIRED
TIMEOUT_MS = 120_000


class CeremonyFailed(Exception):
    """The browser's answer does not verify; the message is safe to show."""


@dataclass(frozen=True)
class RelyingParty:
    """Who the passkeys belong to: the console's origin and its host name as RP ID."""

    origin: str
    rp_id: str


def user_handle(reviewer: str) -> bytes:
    """The same handle for a reviewer on every enrolment, so login can check it without any
    state beyond the manifest."""
    return hashlib.sha256(f"mopsgate reviewer {reviewer}".encode()).digest()[:32]


def _descriptor(pk: ReviewerPasskey) -> structs.PublicKeyCredentialDescriptor:
    return structs.PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(pk.id))


def enrol_options(
    rp: RelyingParty, reviewer: str, display: str, manifest: Manifest
) -> tuple[str, bytes]:
    declared = manifest.reviewers.get(reviewer)
    options = webauthn.generate_registration_options(
        rp_id=rp.rp_id,
        rp_name=RP_NAME,
        user_name=reviewer,
        user_id=user_handle(reviewer),
        user_display_name=display or reviewer,
        timeout=TIMEOUT_MS,
        authenticator_selection=structs.AuthenticatorSelectionCriteria(
            resident_key=structs.ResidentKeyRequirement.REQUIRED, user_verification=UV
        ),
        exclude_credentials=[_descriptor(p) for p in declared.passkeys] if declared else [],
    )
    return options_to_json(options), options.challenge


def enrol_verify(rp: RelyingParty, credential: dict[str, Any], challenge: bytes) -> ReviewerPasskey:
    try:
        found = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origin,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise CeremonyFailed(f"the passkey could not be registered: {exc}") from exc
    return ReviewerPasskey(
        id=bytes_to_base64url(found.credential_id),
        public_key=bytes_to_base64url(found.credential_public_key),
    )


def passkey_table(reviewer: str, passkey: ReviewerPasskey, label: str) -> str:
    return (
        f"[[reviewers.{reviewer}.passkeys]]\n"
        f'id = "{passkey.id}"\n'
        f'public_key = "{passkey.public_key}"\n'
        f'label = "{label}"\n'
    )


def login_options(rp: RelyingParty) -> tuple[str, bytes]:
    options = webauthn.generate_authentication_options(
        rp_id=rp.rp_id, user_verification=UV, timeout=TIMEOUT_MS
    )
    return options_to_json(options), options.challenge


def find_passkey(manifest: Manifest, credential_id: object) -> tuple[str, ReviewerPasskey] | None:
    """The reviewer and declared passkey with this credential id, if any."""
    for name, reviewer in manifest.reviewers.items():
        for pk in reviewer.passkeys:
            if pk.id == credential_id:
                return name, pk
    return None


def login_verify(
    rp: RelyingParty, manifest: Manifest, credential: dict[str, Any], challenge: bytes
) -> tuple[str, ReviewerPasskey]:
    found = find_passkey(manifest, credential.get("id"))
    if found is None:
        raise CeremonyFailed(
            "this passkey is not declared in the manifest in force; if you just enrolled, ask "
            "the manifest owner to declare it"
        )
    reviewer, pk = found
    handle = (credential.get("response") or {}).get("userHandle")
    if handle and handle != bytes_to_base64url(user_handle(reviewer)):
        raise CeremonyFailed("this passkey was not enrolled for the reviewer it is declared for")
    try:
        webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp.rp_id,
            expected_origin=rp.origin,
            credential_public_key=webauthn.base64url_to_bytes(pk.public_key),
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise CeremonyFailed(f"the passkey did not verify: {exc}") from exc
    return reviewer, pk


def decide_options(
    rp: RelyingParty, challenge: bytes, passkeys: tuple[ReviewerPasskey, ...]
) -> str:
    options = webauthn.generate_authentication_options(
        rp_id=rp.rp_id,
        challenge=challenge,
        allow_credentials=[_descriptor(p) for p in passkeys],
        user_verification=UV,
        timeout=TIMEOUT_MS,
    )
    return options_to_json(options)


def decision_proof(
    rp: RelyingParty, credential: dict[str, Any], passkeys: tuple[ReviewerPasskey, ...]
) -> PasskeyProof:
    """The browser's assertion as a proof; whether it verifies is checked with the statement
    (``governance.reviewer_proof.check_signed``), the same check audit verify repeats."""
    credential_id = credential.get("id")
    pk = next((p for p in passkeys if p.id == credential_id), None)
    response = credential.get("response")
    if pk is None or not isinstance(response, dict):
        raise CeremonyFailed("that is not one of your declared passkeys")
    try:
        return PasskeyProof(
            credential_id=pk.id,
            public_key=pk.public_key,
            authenticator_data=str(response["authenticatorData"]),
            client_data_json=str(response["clientDataJSON"]),
            signature=str(response["signature"]),
            user_handle=str(response["userHandle"]) if response.get("userHandle") else None,
            rp_id=rp.rp_id,
            origin=rp.origin,
        )
    except KeyError as exc:
        raise CeremonyFailed(f"the browser's answer lacks {exc}") from exc

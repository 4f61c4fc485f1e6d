"""Reviewer credentials for tests: fixed Ed25519 keys per reviewer name, and a software passkey.

The keys are derived from the reviewer's name, so every test (and every process a test starts)
agrees on them without sharing files; they are test keys and sign nothing real.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

from mopsgate.governance.reviewer_keys import private_key_pem, public_key_text


def reviewer_key(reviewer: str) -> Ed25519PrivateKey:
    seed = hashlib.sha256(f"mopsgate test reviewer {reviewer}".encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def key_table(reviewer: str, key: Ed25519PrivateKey | None = None) -> str:
    """The ``[[reviewers.<name>.keys]]`` table declaring ``reviewer``'s key."""
    text = public_key_text(key or reviewer_key(reviewer))
    return f'\n[[reviewers.{reviewer}.keys]]\npublic_key = "{text}"\nlabel = "test key"\n'


def declare_keys(manifest: Path, reviewers: tuple[str, ...]) -> None:
    with manifest.open("a", encoding="utf-8") as fh:
        for name in reviewers:
            fh.write(key_table(name))


def install_keys(config_home: Path, reviewers: tuple[str, ...]) -> None:
    """Write each reviewer's private key where `mopsgate review` looks for it."""
    folder = config_home / "mopsgate" / "reviewers"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in reviewers:
        path = folder / f"{name}.pem"
        path.write_bytes(private_key_pem(reviewer_key(name)))
        path.chmod(0o600)


@dataclass
class SoftPasskey:
    """A passkey in software: enough of an authenticator to make WebAuthn assertions, and to
    be loaded into Chromium's virtual authenticator (``cdp_credential``)."""

    credential_id: bytes = b"soft-passkey-credential-0001"
    seed: int = 7_654_321
    sign_count: int = 0
    key: ec.EllipticCurvePrivateKey = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.key = ec.derive_private_key(self.seed, ec.SECP256R1())

    @property
    def id(self) -> str:
        return bytes_to_base64url(self.credential_id)

    @property
    def public_key(self) -> str:
        numbers = self.key.public_key().public_numbers()
        cose = {
            1: 2,
            3: -7,
            -1: 1,
            -2: numbers.x.to_bytes(32, "big"),
            -3: numbers.y.to_bytes(32, "big"),
        }
        return bytes_to_base64url(cbor2.dumps(cose))

    def table(self, reviewer: str) -> str:
        return (
            f"\n[[reviewers.{reviewer}.passkeys]]\n"
            f'id = "{self.id}"\npublic_key = "{self.public_key}"\n'
        )

    def cdp_credential(self, rp_id: str, user_handle: bytes) -> dict[str, object]:
        """The credential as ``WebAuthn.addCredential`` takes it (a discoverable passkey)."""
        pkcs8 = self.key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return {
            "credentialId": base64.b64encode(self.credential_id).decode(),
            "isResidentCredential": True,
            "rpId": rp_id,
            "privateKey": base64.b64encode(pkcs8).decode(),
            "userHandle": base64.b64encode(user_handle).decode(),
            "signCount": 0,
        }

    def assert_(
        self, challenge: bytes, rp_id: str, origin: str, *, flags: int = 0x05
    ) -> dict[str, str]:
        """An assertion over ``challenge`` (flags: user present + verified)."""
        self.sign_count += 1
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([flags])
            + self.sign_count.to_bytes(4, "big")
        )
        client_data = json.dumps(
            {"type": "webauthn.get", "challenge": bytes_to_base64url(challenge), "origin": origin}
        ).encode()
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "authenticatorData": bytes_to_base64url(auth_data),
            "clientDataJSON": bytes_to_base64url(client_data),
            "signature": bytes_to_base64url(signature),
        }

    def register(self, challenge: bytes, rp_id: str, origin: str) -> dict[str, str]:
        """A registration response ("none" attestation) for this passkey."""
        cose = cbor2.loads(base64url_to_bytes(self.public_key))
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([0x45])  # user present, user verified, attested credential data
            + (0).to_bytes(4, "big")
            + bytes(16)  # AAGUID
            + len(self.credential_id).to_bytes(2, "big")
            + self.credential_id
            + cbor2.dumps(cose)
        )
        client_data = json.dumps(
            {
                "type": "webauthn.create",
                "challenge": bytes_to_base64url(challenge),
                "origin": origin,
            }
        ).encode()
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "clientDataJSON": bytes_to_base64url(client_data),
            "attestationObject": bytes_to_base64url(attestation),
        }

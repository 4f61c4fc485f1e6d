"""Reviewers' public keys as the manifest writes them, and their fingerprints.

Two kinds: ``ed25519:<base64 of 32 bytes>`` for the CLI, and a passkey's credential id and COSE
public key (both base64url, as WebAuthn hands them over) for the console. Parsing is strict —
a key that does not decode is a manifest error at load time, not a refused approval weeks later.
A fingerprint is the short name audit rows and messages use for a key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Literal

ED25519_PREFIX = "ed25519:"
KeyMethod = Literal["ed25519", "passkey"]
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


def ed25519_raw(public_key: str) -> bytes:
    """The 32 key bytes of an ``ed25519:<base64>`` text; ValueError naming what is wrong."""
    if not public_key.startswith(ED25519_PREFIX):
        raise ValueError(f"an Ed25519 public key starts with {ED25519_PREFIX!r}")
    try:
        raw = base64.b64decode(public_key.removeprefix(ED25519_PREFIX), validate=True)
    except binascii.Error as exc:
        raise ValueError("the Ed25519 public key is not valid base64") from exc
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes, not {len(raw)}")
    # Imported here: loading a manifest is on the server's start-up path, and the key check
    # is the only use of cryptography there.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    Ed25519PublicKey.from_public_bytes(raw)
    return raw


def ed25519_text(raw: bytes) -> str:
    return ED25519_PREFIX + base64.b64encode(raw).decode("ascii")


def base64url_raw(value: str, what: str) -> bytes:
    """Bytes of a base64url text (no padding, as WebAuthn writes it)."""
    if not _BASE64URL.fullmatch(value):
        raise ValueError(f"{what} must be base64url (A-Z a-z 0-9 - _, no padding)")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except binascii.Error as exc:  # a length no base64 text can have
        raise ValueError(f"{what} is not valid base64url") from exc


def passkey_key_raw(public_key: str) -> bytes:
    """The COSE bytes of a passkey's public key, checked to be a key WebAuthn can verify with."""
    raw = base64url_raw(public_key, "a passkey public key")
    # Imported here, not at the top: py_webauthn costs more to import than the rest of the
    # manifest's dependencies together, and only a manifest with passkeys needs it.
    from webauthn.helpers import decode_credential_public_key

    try:
        decode_credential_public_key(raw)
    except Exception as exc:  # py_webauthn raises several types for undecodable CBOR
        raise ValueError(f"the passkey public key is not a COSE key ({exc})") from exc
    return raw


def fingerprint(method: KeyMethod, key_bytes: bytes) -> str:
    """A short, stable name for a public key."""
    return f"{method}:sha256:{hashlib.sha256(key_bytes).hexdigest()[:32]}"


def ed25519_fingerprint(public_key: str) -> str:
    return fingerprint("ed25519", ed25519_raw(public_key))


def passkey_fingerprint(public_key: str) -> str:
    return fingerprint("passkey", base64url_raw(public_key, "a passkey public key"))

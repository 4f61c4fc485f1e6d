"""A reviewer's own Ed25519 key: made once, kept by the reviewer, used to sign decisions.

The private key never goes near the server's state directory or the manifest; only its public
half is declared (``[[reviewers.<name>.keys]]``). Keys are stored as unencrypted PKCS#8 PEM in
a 0600 file in the reviewer's own config directory — the same protection an SSH key has by
default; whoever can read that file can approve as that reviewer, so it belongs to the
reviewer's own OS account, not to the account the server or an assistant runs as.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mopsgate.governance.decision_proof import Ed25519Proof, SignedDecision
from mopsgate.governance.decision_statement import DecisionStatement
from mopsgate.governance.public_keys import ed25519_text


def new_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    """ValueError unless ``pem`` is an unencrypted Ed25519 private key."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the key is not an Ed25519 key")
    return key


def public_key_text(key: Ed25519PrivateKey) -> str:
    """``ed25519:<base64>``: the value to declare in the manifest."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return ed25519_text(raw)


def sign(statement: DecisionStatement, key: Ed25519PrivateKey) -> SignedDecision:
    signature = key.sign(statement.canonical())
    proof = Ed25519Proof(
        public_key=public_key_text(key), signature=base64.b64encode(signature).decode("ascii")
    )
    return SignedDecision(statement=statement, proof=proof)

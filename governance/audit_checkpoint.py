"""A signed checkpoint of the audit chain's head, kept where the server cannot write
(catalogue L-04).

The hash chain proves that no row was changed *relative to the rows around it*; someone who can
write the database can still rewrite every row from the first changed one onwards, and that
chain verifies locally. The defence is a head the rewriter cannot forge: a reviewer signs the
chain's current ``seq`` and row hash with their own Ed25519 key (the one they approve changes
with, kept in their own config directory, never in the state directory) and the operator keeps
the file off the server. ``audit verify --against`` then checks the signature against the keys
the manifest declares for that reviewer, and that the row at that ``seq`` still has that hash:
a consistent rewrite, or a tail cut below it, fails.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mopsgate.governance.public_keys import ed25519_fingerprint, ed25519_raw
from mopsgate.governance.reviewer_keys import public_key_text

FORMAT = "mopsgate-audit-checkpoint/1"


class CheckpointError(ValueError):
    """The checkpoint cannot be trusted, or does not match the log; the message says why."""


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    row_hash: str
    reviewer: str
    at: str  # when it was signed, ISO 8601 UTC

    def canonical(self) -> bytes:
        body = {"format": FORMAT, **asdict(self)}
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign_checkpoint(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> dict[str, object]:
    """The document to keep: the checkpoint, the signer's public key and the signature."""
    return {
        "format": FORMAT,
        "checkpoint": asdict(checkpoint),
        "public_key": public_key_text(key),
        "signature": base64.b64encode(key.sign(checkpoint.canonical())).decode("ascii"),
    }


def read_checkpoint(doc: object, declared: Mapping[str, str]) -> Checkpoint:
    """The checkpoint in ``doc`` if its signature verifies with a key in ``declared`` (the
    fingerprints the manifest declares for its reviewer); CheckpointError otherwise."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise CheckpointError(f"not a {FORMAT} document")
    try:
        body = doc["checkpoint"]
        checkpoint = Checkpoint(
            seq=int(body["seq"]),
            row_hash=str(body["row_hash"]),
            reviewer=str(body["reviewer"]),
            at=str(body["at"]),
        )
        public_key = str(doc["public_key"])
        key = Ed25519PublicKey.from_public_bytes(ed25519_raw(public_key))
        signature = base64.b64decode(str(doc["signature"]), validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise CheckpointError(f"the checkpoint is malformed ({exc})") from exc
    if ed25519_fingerprint(public_key) not in declared:
        raise CheckpointError(
            f"it is signed with a key the manifest does not declare for {checkpoint.reviewer!r}"
        )
    try:
        key.verify(signature, checkpoint.canonical())
    except InvalidSignature as exc:
        raise CheckpointError(
            "the signature does not match the checkpoint (it was altered, or signed by another key)"
        ) from exc
    return checkpoint


def compare(checkpoint: Checkpoint, found_hash: str | None) -> str | None:
    """Why the log does not hold the checkpoint's row, or None when it does."""
    if found_hash is None:
        return f"row seq={checkpoint.seq} of the checkpoint is missing: the log was cut"
    if found_hash != checkpoint.row_hash:
        return (
            f"row seq={checkpoint.seq} has hash {found_hash[:12]}, the signed checkpoint says "
            f"{checkpoint.row_hash[:12]}: the log up to that row was rewritten"
        )
    return None

"""Confirmation tokens: proof that whoever applies a change holds the one token minted for it.

``mgc1.<b64url(json payload)>.<b64url(HMAC-SHA256(secret, "mgc1." + payload))>``

The payload binds the change id, the plan digest, the requester, the manifest digest, the expiry
and a random nonce. There is exactly one algorithm and one version, both fixed here: nothing in
the token chooses how it is checked (no ``alg`` to downgrade). The MAC is compared in constant
time. Single use is *not* the token's job: the store spends the nonce in the same transaction
that moves the change to ``applying``, which is what makes a replay fail even under a race.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from mopsgate.governance.change_model import Change, plan_digest, utcnow
from mopsgate.governance.errors import StaleChange, TokenInvalid

VERSION = "mgc1"
MAX_TOKEN_LEN = 4096
MAC_LEN = 32
CLOCK_SKEW = timedelta(minutes=2)
_KEYS = frozenset({"cid", "pd", "sub", "md", "iat", "exp", "n"})
_HINT = "use the confirmation_token returned when this change was proposed, unchanged"


@dataclass(frozen=True)
class Keyring:
    """The secret tokens are signed with now, and the one it replaced (catalogue T-18).

    A rotation must not strand the changes awaiting apply: a token signed with the previous
    secret is accepted until ``previous_until`` (by default one change lifetime after the
    rotation, so every token it signed has expired by then) and refused after, with its own
    reason. New tokens are always signed with ``current``. No key ever appears in a message."""

    current: bytes
    previous: bytes | None = None
    previous_until: datetime | None = None

    def valid(self, now: datetime) -> Iterator[bytes]:
        yield self.current
        if self.previous is not None and self.previous_until and now < self.previous_until:
            yield self.previous


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes | None:
    """Strict decoding: only the URL-safe alphabet and only the canonical encoding, so one
    token has exactly one spelling."""
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if _b64(raw) == text else None


def _mac(secret: bytes, payload_b64: str) -> bytes:
    return hmac.new(secret, f"{VERSION}.{payload_b64}".encode("ascii"), hashlib.sha256).digest()


def _epoch(value: datetime) -> int:
    return int(value.timestamp())


def issue(
    secret: bytes, change: Change, *, now: datetime | None = None, nonce: str | None = None
) -> str:
    if len(secret) < 32:
        raise ValueError("the signing secret must be at least 32 bytes")
    payload = {
        "cid": change.id,
        "pd": change.plan_digest,
        "sub": change.requester,
        "md": change.manifest_digest,
        "iat": _epoch(now or utcnow()),
        "exp": _epoch(change.expires_at),
        "n": nonce or secrets.token_urlsafe(16),
    }
    body = _b64(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8"))
    return f"{VERSION}.{body}.{_b64(_mac(secret, body))}"


def token_hash(token: str) -> str:
    """What the audit log may keep of a token: enough to correlate, useless to replay."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _invalid(code: str, message: str, change: Change, hint: str = _HINT) -> TokenInvalid:
    return TokenInvalid(message, hint=hint, details={"reason_code": code, "change_id": change.id})


def _payload(body: str) -> dict[str, Any] | None:
    raw = _unb64(body)
    if raw is None:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict) or set(data) != _KEYS:
        return None
    ints = all(type(data[k]) is int for k in ("iat", "exp"))
    strs = all(isinstance(data[k], str) for k in _KEYS - {"iat", "exp"})
    return data if ints and strs else None


def _authentic(keys: Keyring, token: object, change: Change, now: datetime) -> dict[str, Any]:
    """Check shape and MAC; return the payload only if the server signed exactly these bytes."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LEN:
        raise _invalid("malformed", "the confirmation token is missing or malformed", change)
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        raise _invalid(
            "malformed",
            f"the confirmation token is malformed (expected {VERSION}.<payload>.<signature>)",
            change,
        )
    mac = _unb64(parts[2])
    if mac is None or len(mac) != MAC_LEN:
        raise _invalid("malformed", "the confirmation token's signature is malformed", change)
    payload = _payload(parts[1])
    if not any(hmac.compare_digest(mac, _mac(k, parts[1])) for k in keys.valid(now)):
        if keys.previous is not None and hmac.compare_digest(mac, _mac(keys.previous, parts[1])):
            until = f"{keys.previous_until:%Y-%m-%d %H:%M} UTC" if keys.previous_until else "-"
            raise _invalid(
                "key_retired",
                f"the confirmation token was signed with a secret retired at the latest {until}",
                change,
                "the change must be proposed again to get a token under the current secret",
            )
        if payload is None:
            raise _invalid("forged", "the confirmation token was not issued by mopsgate", change)
        raise _invalid(
            "tampered",
            "the confirmation token was altered: its contents do not match its signature",
            change,
        )
    if payload is None:
        raise _invalid("malformed", "the confirmation token's payload is malformed", change)
    return payload


def verify(
    secret: bytes | Keyring,
    token: str,
    *,
    change: Change,
    principal: str,
    manifest_digest: str,
    now: datetime | None = None,
) -> str:
    """Return the nonce for the store's atomic claim, or raise with a distinct reason_code.

    Manifest drift is checked last and raised as :class:`StaleChange`, because then the token is
    genuine and only the world moved: the remedy is to propose again, not to look for a leak.
    """
    when = now or utcnow()
    keys = secret if isinstance(secret, Keyring) else Keyring(secret)
    p = _authentic(keys, token, change, when)
    if p["cid"] != change.id:
        raise _invalid(
            "wrong_change",
            f"this confirmation token belongs to another change, not {change.id}",
            change,
            "each change has its own token; use the one returned when it was proposed",
        )
    if not hmac.compare_digest(p["sub"], principal) or principal != change.requester:
        raise _invalid(
            "wrong_principal",
            "this confirmation token belongs to another principal",
            change,
            "only the principal that proposed a change can apply it",
        )
    if p["pd"] != change.plan_digest or p["pd"] != plan_digest(change.plan):
        raise _invalid(
            "plan_mismatch",
            "the stored plan no longer matches the plan this token was issued for",
            change,
            "propose the change again",
        )
    _check_time(p, change, when)
    if p["md"] != manifest_digest or change.manifest_digest != manifest_digest:
        raise StaleChange(
            "the manifest changed since this plan was made; propose again",
            hint="permissions may differ now, so the plan must be checked against them afresh",
            details={"reason_code": "manifest_changed", "change_id": change.id},
        )
    return str(p["n"])


def _check_time(p: dict[str, Any], change: Change, now: datetime) -> None:
    if datetime.fromtimestamp(p["iat"], UTC) > now + CLOCK_SKEW:
        raise _invalid("not_yet_valid", "the confirmation token is not valid yet", change)
    expiry = datetime.fromtimestamp(p["exp"], UTC)
    if now >= expiry or change.is_expired(now):
        raise _invalid(
            "expired",
            f"the confirmation token expired at {expiry.isoformat(timespec='seconds')}",
            change,
            "propose the change again; approvals and tokens do not outlive the plan",
        )

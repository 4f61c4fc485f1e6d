"""Confirmation tokens: catalogue table B (T-01..T-05, T-08, T-11, T-12, T-17)."""

from __future__ import annotations

import base64
import hmac
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from mopsgate.governance import confirm_token as ct
from mopsgate.governance.change_model import Change, FieldChange, PlannedRecord
from mopsgate.governance.errors import StaleChange, TokenInvalid
from tests.governance.change_factory import NOW, SECRET, change

MD = change().manifest_digest


def _verify(
    token: str, c: Change, *, principal: str = "bot", md: str | None = None, now: datetime = NOW
) -> str:
    return ct.verify(
        SECRET,
        token,
        change=c,
        principal=principal,
        manifest_digest=md or c.manifest_digest,
        now=now,
    )


def _code(token: str, c: Change, **kw: Any) -> str:
    with pytest.raises(TokenInvalid) as exc:
        _verify(token, c, **kw)
    assert exc.value.code == "invalid_confirmation"
    return str(exc.value.details["reason_code"])


def _parts(token: str) -> tuple[str, dict[str, Any], str]:
    version, body, mac = token.split(".")
    return version, json.loads(base64.urlsafe_b64decode(body + "==")), mac


def _encode(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_round_trip_returns_the_nonce() -> None:
    c = change()
    token = ct.issue(SECRET, c, now=NOW, nonce="n-1")
    assert token.startswith("mgc1.")
    assert _verify(token, c) == "n-1"
    assert SECRET.decode() not in token


@pytest.mark.parametrize(
    "token", ["", "garbage", "mgc1.a.b.c", "mgc1..", "mgc2.e30.AAAA", "mgc1.e30.", "x" * 5000]
)
def test_malformed_tokens(token: str) -> None:
    assert _code(token, change()) == "malformed"


def test_forged_random_payload_right_format() -> None:
    fake = base64.urlsafe_b64encode(b"\x00" * 32).rstrip(b"=").decode()
    assert _code(f"mgc1.{_encode({'hello': 1})}.{fake}", change()) == "forged"


@pytest.mark.parametrize("field", ["cid", "pd", "sub", "md", "exp", "n"])
def test_tampered_payload_with_original_mac(field: str) -> None:
    c = change()
    version, payload, mac = _parts(ct.issue(SECRET, c, now=NOW))
    payload[field] = payload[field] + 3600 if field == "exp" else "x" + payload[field]
    assert _code(f"{version}.{_encode(payload)}.{mac}", c) == "tampered"


def test_signed_with_another_key_is_refused() -> None:
    c = change()
    token = ct.issue(b"z" * 32, c, now=NOW)
    assert _code(token, c) in {"tampered", "forged"}


def test_alg_none_style_downgrade_is_refused() -> None:
    c = change()
    version, payload, _ = _parts(ct.issue(SECRET, c, now=NOW))
    payload["alg"] = "none"
    assert _code(f"{version}.{_encode(payload)}.", c) == "malformed"
    empty_mac = base64.urlsafe_b64encode(b"").decode()
    assert _code(f"{version}.{_encode(payload)}.{empty_mac}", c) == "malformed"


def test_non_canonical_base64_is_refused() -> None:
    c = change()
    token = ct.issue(SECRET, c, now=NOW)
    assert _code(token + "=", c) == "malformed"


def test_expired() -> None:
    c = change(ttl=timedelta(minutes=10))
    token = ct.issue(SECRET, c, now=NOW)
    assert _code(token, c, now=NOW + timedelta(minutes=10)) == "expired"
    assert _verify(token, c, now=NOW + timedelta(minutes=9))


def test_issued_in_the_future_is_not_yet_valid() -> None:
    c = change()
    token = ct.issue(SECRET, c, now=NOW + timedelta(hours=1))
    assert _code(token, c) == "not_yet_valid"


def test_other_principal() -> None:
    c = change()
    token = ct.issue(SECRET, c, now=NOW)
    with pytest.raises(TokenInvalid, match="belongs to another principal") as exc:
        _verify(token, c, principal="other")
    assert exc.value.details["reason_code"] == "wrong_principal"


def test_token_of_another_change() -> None:
    mine, theirs = change(), change()
    token = ct.issue(SECRET, theirs, now=NOW)
    assert _code(token, mine) == "wrong_change"


def test_plan_edited_after_issue_is_a_plan_mismatch() -> None:
    c = change()
    token = ct.issue(SECRET, c, now=NOW)
    extra = PlannedRecord(
        ref="hubspot:contact:77",
        action="update",
        changes=[FieldChange(field="jobtitle", before="a", after="b")],
    )
    edited = c.model_copy(update={"plan": c.plan.model_copy(update={"records": [extra]})})
    assert _code(token, edited) == "plan_mismatch"


def test_manifest_changed_is_stale() -> None:
    c = change()
    token = ct.issue(SECRET, c, now=NOW)
    with pytest.raises(StaleChange, match="manifest changed since this plan was made") as exc:
        _verify(token, c, md="f" * 64)
    assert exc.value.details["reason_code"] == "manifest_changed"


def test_mac_is_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    c = change()
    _verify(ct.issue(SECRET, c, now=NOW), c)
    assert any(isinstance(a, bytes) and len(a) == 32 for a, _ in calls)


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        ct.issue(b"short", change())


def test_token_hash_is_stable_and_not_the_token() -> None:
    token = ct.issue(SECRET, change(), now=NOW)
    assert ct.token_hash(token) == ct.token_hash(token) != token


NEW = b"n" * 32


def _with_keys(token: str, c: Change, keys: ct.Keyring, now: datetime) -> str:
    return ct.verify(keys, token, change=c, principal="bot", manifest_digest=MD, now=now)


def test_a_token_of_the_previous_secret_is_accepted_during_the_grace_only() -> None:
    """T-18: after a rotation, a token signed with the replaced secret still applies until the
    grace ends, then is refused with its own reason; the secrets never appear in it."""
    c = change()
    old_token = ct.issue(SECRET, c, now=NOW, nonce="n-old")
    keys = ct.Keyring(NEW, previous=SECRET, previous_until=NOW + timedelta(hours=1))
    assert _with_keys(old_token, c, keys, NOW + timedelta(minutes=59)) == "n-old"
    assert _with_keys(ct.issue(NEW, c, now=NOW, nonce="n-new"), c, keys, NOW) == "n-new"
    with pytest.raises(TokenInvalid) as exc:
        _with_keys(old_token, c, keys, NOW + timedelta(hours=1))
    assert exc.value.details["reason_code"] == "key_retired"
    text = f"{exc.value.message} {exc.value.hint}"
    assert "propose" in text and SECRET.decode() not in text and NEW.decode() not in text
    stranger = ct.issue(b"z" * 32, c, now=NOW)
    with pytest.raises(TokenInvalid) as exc:
        _with_keys(stranger, c, keys, NOW)
    assert exc.value.details["reason_code"] in {"tampered", "forged"}

"""What a reviewer sees instead of personal data and secrets."""

from __future__ import annotations

from typing import Any

import pytest

from mopsgate.governance.pii import (
    fingerprint,
    mask_arguments,
    mask_email,
    mask_name,
    mask_phone,
    mask_record,
    mask_text,
    mask_value,
)


def test_single_value_masks() -> None:
    assert mask_email("jane.doe@acme.com") == "j***@acme.com"
    assert mask_phone("+1 415 555 0199") == "***-0199"
    assert mask_phone("(415) 555-0199") == "***-0199"
    assert mask_phone("12") == "***"
    assert mask_name("Jane") == "J***"
    assert mask_name("") == ""
    assert mask_email("not-an-email") == "n***"


def test_mask_value_by_kind_and_by_field_name() -> None:
    assert mask_value("Email", "jane@acme.com") == "j***@acme.com"
    assert mask_value("MobilePhone", "+44 20 7946 0958") == "***-0958"
    assert mask_value("LastName", "Doe") == "D***"
    assert mask_value("anything", "jane@acme.com", "email") == "j***@acme.com"
    assert mask_value("client_secret", "s3cr3t") == fingerprint("s3cr3t")
    assert mask_value("Email", None) is None


def test_mask_record_only_touches_named_fields() -> None:
    record = {"Id": "00Q1", "Email": "jane@acme.com", "Company": "Acme", "FirstName": "Jane"}
    masked = mask_record(record, {"email", "firstname"})
    assert masked == {
        "Id": "00Q1",
        "Email": "j***@acme.com",
        "Company": "Acme",
        "FirstName": "J***",
    }
    assert record["Email"] == "jane@acme.com"  # input untouched


def test_mask_arguments_finds_pii_and_secrets_anywhere() -> None:
    args = {
        "lead": {"email": "jane@acme.com", "first_name": "Jane", "street": "1 Main St"},
        "ids": [1, 2, 3],
        "comment": "reach jane@acme.com or +1 (415) 555-0199 on 2024-05-01",
        "list_name": "DO NOT DELETE FINAL v3",
        "password": "hunter2",
        "confirmation_token": "abc.def.ghi",
        "upstream": [{"Authorization": "Bearer abcdefghijklmnop1234"}],
        "opted_out": True,
        "count": 12,
        "nothing": None,
    }
    out: Any = mask_arguments(args)
    assert out["lead"] == {"email": "j***@acme.com", "first_name": "J***", "street": "1***"}
    assert out["ids"] == [1, 2, 3]
    assert out["comment"] == "reach j***@acme.com or ***-0199 on 2024-05-01"
    assert out["list_name"] == "DO NOT DELETE FINAL v3"
    assert out["password"] == fingerprint("hunter2")
    assert out["password"].startswith("sha256:") and len(out["password"]) == 15
    assert out["confirmation_token"].startswith("sha256:")
    assert out["upstream"][0]["Authorization"].startswith("sha256:")
    assert (out["opted_out"], out["count"], out["nothing"]) == (True, 12, None)


def test_free_text_keeps_ordinary_numbers_and_dates() -> None:
    text = "lead 1234567 scored 55 on 2024-01-15, amount 1,234.50, id 00Q5e000001abcd"
    assert mask_text(text) == text
    assert mask_text("call 4155550199") == "call 4155550199"  # bare digits could be an id
    assert mask_text("call +14155550199") == "call ***-0199"
    assert "xyz" not in mask_text("Bearer xyz1234567890abcdefgh")


@pytest.mark.parametrize(
    "weird",
    [None, 0, 1.5, float("nan"), b"\x00\x01", object(), {1: {2: [3]}}, ("a@b.co",), {"x"}],
)
def test_odd_input_never_raises(weird: object) -> None:
    mask_arguments(weird)
    mask_arguments({"email": weird, "phone": weird, "token": weird})


def test_deep_and_huge_input_stays_bounded() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(500):
        node["a"] = {}
        node = node["a"]
    assert "nested too deeply" in str(mask_arguments(deep))
    # Huge strings are cut before any pattern runs; a pathological regex would instead hang
    # here until pytest-timeout fails the test.
    huge = "a" * 5_000_000 + "@" + "b" * 100
    out: Any = mask_arguments({"blob": huge})
    assert len(out["blob"]) < 5000 and "truncated" in out["blob"]
    digits_then_dots = "1" * 1_000_000 + " " + "a." * 500_000
    assert mask_text(digits_then_dots) == digits_then_dots  # no phone, no e-mail: unchanged

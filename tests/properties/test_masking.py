"""What reaches the audit log and the model is masked and clean, whatever the input."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mopsgate.governance.diff_lines import visible
from mopsgate.governance.hygiene import clean_record, clean_text
from mopsgate.governance.pii import mask_arguments, mask_text
from tests.properties.strategies import json_values, tricky_text

EMAIL = re.compile(r"[A-Za-z0-9._%+-]{2,}@[A-Za-z0-9-]+\.[A-Za-z]{2,}")
HIDDEN = {"Cc", "Cf"}
BIDI = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A))
KEEP = {"\n", "\t"}

emails = st.from_regex(r"[a-z]{3,10}\.[a-z]{3,10}@[a-z]{3,10}\.(com|org|io)", fullmatch=True)
phones = st.from_regex(r"\+[1-9][0-9]{9,12}", fullmatch=True)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


@given(json_values, emails, phones)
def test_mask_arguments_never_raises_and_leaves_no_contact_data(value, email, phone):
    out = mask_arguments({"args": value, "note": f"mail {email} or call {phone}"})
    json.dumps(out, allow_nan=False)  # plain JSON: no NaN, no bytes, no objects
    text = " ".join(_strings(out))
    assert email not in text and phone not in text


@given(tricky_text, st.integers(min_value=0, max_value=300))
def test_mask_text_is_bounded(value, max_len):
    out = mask_text(value, max_len)
    marker = f"…[truncated {max(len(value) - max_len, 0)} chars]"
    assert len(out) <= max_len + len(marker) + 64  # masks may lengthen a value a little


@given(tricky_text, st.integers(min_value=0, max_value=300))
def test_clean_text_leaves_nothing_hidden_and_is_idempotent(value, max_len):
    once = clean_text(value, max_len).text
    hidden = [c for c in once if c not in KEEP and unicodedata.category(c) in {"Cc"}]
    assert not hidden and not any(ord(c) in BIDI for c in once)
    assert clean_text(once, len(once)).text == once


@given(st.dictionaries(tricky_text, json_values, max_size=5))
def test_clean_record_cleans_every_string(record):
    cleaned, _ = clean_record(record)
    for text in _strings(cleaned):
        assert not any(ord(c) in BIDI or c == "\u200b" for c in text)


@given(json_values | tricky_text)
def test_visible_shows_every_character(value):
    shown = visible(value)
    assert "\n" not in shown
    assert not any(unicodedata.category(c) in HIDDEN or ord(c) in BIDI for c in shown)

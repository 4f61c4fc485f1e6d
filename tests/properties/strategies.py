"""Shared input generators for the property tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Any JSON value, as a client could send it in tool arguments.
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=20), children, max_size=6)
    ),
    max_leaves=40,
)

# Text biased towards the characters the code treats specially.
tricky_text = st.text(
    alphabet=st.characters(codec="utf-8")
    | st.sampled_from(
        ["@", ":", ".", "+", "-", " ", "\n", "\t", "\u200b", "\u202e", "\ufeff", "\U000e0041", "'"]
    )
    | st.sampled_from("0123456789"),
    max_size=200,
)

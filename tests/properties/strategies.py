"""Shared input generators for the property tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

# Any JSON value, as a client could send it in tool arguments: every shape and nesting, kept
# small enough that drawing one rarely overshoots the leaf budget (an overshoot is redrawn,
# which made data generation most of the property tests' time).
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4)
    ),
    max_leaves=16,
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

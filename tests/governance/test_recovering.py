"""Recovery's verdict on one value: does the vendor hold what the plan wrote?

Vendors echo values back in their own shapes (HubSpot keeps every property as text), so a
record written as planned must not be reported "not written" — a finishing proposal would
then write it a second time — and a record that differs must never count as written."""

from __future__ import annotations

import pytest

from mopsgate.governance.vendor_state import holds


@pytest.mark.parametrize(
    ("current", "planned"),
    [
        ("Head of Ops", "Head of Ops"),
        ("true", True),
        ("false", False),
        ("5", 5),
        ("5.0", 5),
        ("", None),
        (None, ""),
        (None, None),
    ],
)
def test_the_planned_value_in_the_vendors_shape_counts_as_written(current, planned):
    assert holds(current, planned)


@pytest.mark.parametrize(
    ("current", "planned"),
    [
        ("Head of Sales", "Head of Ops"),
        ("head of ops", "Head of Ops"),
        ("false", True),
        ("0", None),
        (0, None),
        ("", False),
        ("6", 5),
        ("five", 5),
        (None, "Head of Ops"),
    ],
)
def test_anything_else_counts_as_not_written(current, planned):
    assert not holds(current, planned)

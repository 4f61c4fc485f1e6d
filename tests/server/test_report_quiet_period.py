"""A risk report over a period in which nothing was audited says so in words, in Markdown and
HTML, rather than printing a range of two dashes."""

from __future__ import annotations

from typing import Literal

import pytest

from mopsgate.server.report_render import render
from tests.governance.change_factory import NOW
from tests.governance.test_report_build import row
from tests.server.test_report_render import report

Format = Literal["md", "html"]


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_a_quiet_period_says_no_rows(fmt: Format) -> None:
    text = render(report([]), fmt)
    assert "no audit rows in the period" in text
    assert "-–-" not in text and "rows -" not in text


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_a_busy_period_gives_its_range_of_rows(fmt: Format) -> None:
    text = render(report([row(4, NOW), row(5, NOW)]), fmt)
    assert "rows 4–5" in text and "no audit rows" not in text

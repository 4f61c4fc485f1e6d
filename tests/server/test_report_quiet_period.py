"""A risk report over a period in which nothing was audited says so in words, in Markdown and
HTML, rather than printing a range of two dashes."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import pytest

from mopsgate.governance.audit_chain import AuditRow, VerifyResult
from mopsgate.governance.report_build import ReportInputs, build_report
from mopsgate.governance.report_model import RiskReport
from mopsgate.server.report_render import render
from tests.governance.change_factory import NOW
from tests.governance.test_report_build import DIGEST, M, row

Format = Literal["md", "html"]


def _report(rows: list[AuditRow]) -> RiskReport:
    return build_report(
        ReportInputs(
            manifest=M,
            manifest_digest=DIGEST,
            rows=rows,
            changes=[],
            since=NOW - timedelta(days=1),
            until=NOW + timedelta(days=1),
            chain=VerifyResult(True, len(rows), None, "chain intact", "cd" * 32),
        )
    )


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_a_quiet_period_says_no_rows(fmt: Format) -> None:
    text = render(_report([]), fmt)
    assert "no audit rows in the period" in text
    assert "-–-" not in text and "rows -" not in text


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_a_busy_period_gives_its_range_of_rows(fmt: Format) -> None:
    text = render(_report([row(4, NOW), row(5, NOW)]), fmt)
    assert "rows 4–5" in text and "no audit rows" not in text

"""The report's renderings: untrusted text stays text, HTML stands alone, numbers agree."""

from __future__ import annotations

import json
from datetime import timedelta

from mopsgate.governance.audit_chain import AuditRow, VerifyResult
from mopsgate.governance.report_build import ReportInputs, build_report
from mopsgate.governance.report_model import RiskReport
from mopsgate.server.report_render import cell, duration, render
from tests.governance.change_factory import NOW
from tests.governance.test_report_build import DIGEST, M, row

EVIL = "<script>alert(1)</script> | <img src=x onerror=y>\nsecond line"


def report(rows: list[AuditRow] | None = None) -> RiskReport:
    """Over a day's rows: by default one call, one freeze (with EVIL text), one denial."""
    if rows is None:
        rows = [
            row(1, NOW),
            row(2, NOW, kind="freeze", tool="freeze", principal="ops", reason=EVIL),
            row(3, NOW, decision="denied", rule_id="no-delete", outcome="denied"),
        ]
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


def test_html_escapes_evidence_and_needs_nothing_from_outside() -> None:
    page = render(report(), "html")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in page
    assert "<svg" in page and "Denials by rule" in page
    for outside in ("<link", "<script", 'src="http', "@import", "url("):
        assert outside not in page, outside
    assert "@media print" in page


def test_markdown_keeps_each_value_in_its_cell() -> None:
    text = render(report(), "md")
    freeze = next(line for line in text.splitlines() if line.startswith("| ") and "freeze" in line)
    assert freeze.count(" | ") == 3  # four cells: the pipe and the newline in EVIL are defused
    assert "&lt;script&gt;" in freeze and "\\|" in freeze and "second line" in freeze


def test_json_is_the_model() -> None:
    data = json.loads(render(report(), "json"))
    assert data["report_version"] == 1
    assert data["activity"]["denied"] == 1 and data["freezes"][0]["reason"] == EVIL
    assert data["audit"]["head_hash"] == "cd" * 32


def test_small_formatters() -> None:
    assert [duration(v) for v in (None, 42.4, 600, 7500)] == ["—", "42 s", "10 min", "2 h 05 min"]
    assert cell(None) == "—" and cell("a|b\nc") == "a\\|b c"

"""A period that cannot hold a row is a usage error, not an answer: `audit query --since` after
`--until` (or after now) printed "0 row(s)", which reads as "nobody did anything", and a span
reaching back before the year 1 ended `report` and `audit query` in an OverflowError
traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner, Result

from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.test_cli_signed_decisions import proposed


def run(settings: Settings, *args: str) -> Result:
    env = {"MOPSGATE_MANIFEST": str(settings.manifest_path), "MOPSGATE_HOME": str(settings.home)}
    return CliRunner().invoke(app, list(args), env=env)


@pytest.mark.parametrize(
    ("period", "says"),
    [
        (
            ["--since", "2026-12-05", "--until", "2026-12-01"],
            "--since 2026-12-05 is not before --until 2026-12-01",
        ),
        (["--since", "2999-01-01"], "--since 2999-01-01 is not before now"),
    ],
)
def test_audit_query_refuses_an_empty_period(
    settings: Settings, period: list[str], says: str
) -> None:
    proposed(settings)
    result = run(settings, "audit", "query", *period)
    assert result.exit_code == 2
    assert f"the period is empty: {says}" in result.output and "row(s)" not in result.output


@pytest.mark.parametrize("command", [["audit", "query"], ["report", "risk-review"]])
def test_a_span_before_any_date_is_one_line(settings: Settings, command: list[str]) -> None:
    proposed(settings)
    result = run(settings, *command, "--since", "99999999d")
    assert result.exit_code == 2
    assert "--since '99999999d' reaches back before any date" in result.output
    assert "Traceback" not in result.output and "OverflowError" not in result.output


def test_the_report_names_now_when_no_until_was_given(settings: Settings) -> None:
    proposed(settings)
    result = run(settings, "report", "risk-review", "--since", "0d")
    assert result.exit_code == 2
    assert "the period is empty: --since 0d is not before now" in result.output

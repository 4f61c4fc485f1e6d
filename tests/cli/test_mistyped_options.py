"""Mistyped options that used to look like answers: `audit query --record` with an email or a
bare id ("0 rows" — as if nobody had touched the person) and `review show --page` past the last
page (page 1 again, silently). Each now says what was wrong, exit 2."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from mopsgate.storage import append_once
from tests.test_cli_signed_decisions import proposed


def run(settings: Settings, *args: str) -> Result:
    env = {"MOPSGATE_MANIFEST": str(settings.manifest_path), "MOPSGATE_HOME": str(settings.home)}
    return CliRunner().invoke(app, list(args), env=env)


@pytest.mark.parametrize("typed", ["jane@acme.com", "1051", "hubspot:1051"])
def test_a_record_that_is_not_a_reference_is_refused(settings: Settings, typed: str) -> None:
    proposed(settings)
    result = run(settings, "audit", "query", "--record", typed)
    assert result.exit_code == 2
    assert f"--record: record reference {typed!r} is not of the form" in result.output
    assert "e.g. 'hubspot:contact:1051'" in result.output and "row(s)" not in result.output


def test_a_reference_is_still_queried(settings: Settings) -> None:
    proposed(settings)
    event = AuditEvent(kind="tool_call", principal="assistant", tool="get_person",
                       records=["hubspot:contact:1051"])  # fmt: skip
    asyncio.run(append_once(settings.storage(), event))
    result = run(settings, "audit", "query", "--record", "hubspot:contact:1051")
    assert result.exit_code == 0 and "get_person" in result.output


def test_a_page_past_the_last_is_refused(settings: Settings) -> None:
    change = proposed(settings)
    result = run(settings, "review", "show", change.id, "--page", "3")
    assert result.exit_code == 2
    assert f"{change.id} has 1 record(s), 1 page(s) of 100; there is no page 3" in result.output
    assert "What it touches" not in result.output
    assert run(settings, "review", "show", change.id, "--page", "1").exit_code == 0


def test_a_file_that_is_not_a_signed_decision_says_what_is_wrong(
    settings: Settings, tmp_path: Path
) -> None:
    proposed(settings)
    wrong = tmp_path / "decision.json"
    wrong.write_text('{"statement": {}, "proof": {}}', encoding="utf-8")
    result = run(settings, "review", "submit", str(wrong))
    assert result.exit_code == 1
    line = result.output.strip()
    assert "\n" not in line and line.endswith("make one with `mopsgate review sign … -o FILE`")
    assert re.search(r"\(statement\.\w+: Field required; \d+ more problem\(s\)\)", line), line


@pytest.mark.parametrize("day", ["2027-02-30", "tomorrow"])
def test_manifest_check_as_of_names_what_is_wrong_before_checking(
    settings: Settings, day: str
) -> None:
    result = run(settings, "manifest", "check", "--as-of", day)
    assert result.exit_code == 2
    assert result.output.startswith(f"mopsgate: --as-of {day!r} is not a day like 2027-06-01")
    assert "OK " not in result.output and "does not match the format" not in result.output


def test_an_expiry_already_past_is_called_past(settings: Settings) -> None:
    proposed(settings)
    result = run(
        settings, "exception", "grant", "--use-case", "reporting",
        "--what", "tool:get_consent_state", "--expires", "2025-12-09", "--reviewer", "mops-lead",
        "--ticket", "RISK-7", "--reason", "quarter-end consent audit",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "--expires '2025-12-09' is 2025-12-09 00:00 UTC, which has already passed" in (
        result.output
    )
    assert run(settings, "exception", "list").output.strip() == "No exceptions in force."

"""`mopsgate audit tail` in an 80-column terminal (or piped with COLUMNS=80): every name, rule
and change id stays whole on one line, and no line is wider than the terminal."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.server.cli_audit import audit_app
from mopsgate.storage import StorageConfig, append_once

EVENTS = [
    AuditEvent(
        kind="tool_call",
        principal="assistant",
        transport="http",
        tool="propose_add_to_list_everywhere",
        connector="salesforce",
        decision="allowed",
        rule_id="assistant-campaign-ops",
        use_case="campaign-ops",
        change_id="chg_5f4badd02640",
        records=["salesforce:Lead:00Q5e0000000042"],
    ),
    AuditEvent(
        kind="tool_call",
        principal="assistant",
        transport="http",
        tool="propose_delete_person",
        connector="hubspot",
        decision="denied",
        rule_id="assistant-no-delete",
        outcome="denied",
        error_code="not_permitted",
    ),
    AuditEvent(kind="review", principal="mops-lead", transport="cli", tool="review approve"),
]
WORDS = [
    "propose_add_to_list_everywhere",
    "assistant-campaign-ops",
    "campaign-ops",
    "chg_5f4badd02640",
    "salesforce",
    "propose_delete_person",
    "assistant-no-delete",
    "denied (not_permitted)",
    "mops-lead",
    "review approve",
]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "state"
    home.mkdir()
    for event in EVENTS:
        asyncio.run(append_once(StorageConfig.sqlite(home / "mopsgate.db"), event))
    return home


def tail(home: Path, columns: int) -> str:
    result = CliRunner().invoke(
        audit_app, ["tail", "--home", str(home)], env={"COLUMNS": str(columns)}
    )
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("columns", [80, 60])
def test_narrow_terminal_keeps_every_word_whole(home: Path, columns: int) -> None:
    out = tail(home, columns)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= columns, out
    for word in WORDS:
        assert any(word in line for line in lines), f"{word!r} is broken or missing:\n{out}"
    assert "…" not in out  # nothing cut off either
    assert "n/a" not in out  # a row without a decision (a review) says just its outcome
    # Each row starts at the left margin with its time; what follows it is indented.
    starts = [line for line in lines if not line.startswith(" ")]
    assert len(starts) == len(EVENTS), out
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  ", line) for line in starts), out


def test_a_wide_terminal_still_gets_the_table(home: Path) -> None:
    out = tail(home, 200)
    header = out.splitlines()[1].split()
    assert header[:3] == ["time", "principal", "use"]
    assert "propose_add_to_list_everywhere" in out and "chg_5f4badd02640" in out


def test_short_rows_are_never_cut_with_an_ellipsis(tmp_path: Path) -> None:
    """Rows whose words would all fit 80 columns, yet not every cell on one line: rich cut
    them ('princip…') rather than wrap, so the table is not used for them either."""
    home = tmp_path / "state"
    home.mkdir()
    freeze = AuditEvent(kind="freeze", principal="root", transport="cli", tool="freeze",
                        decision="allowed", reason="before export")  # fmt: skip
    asyncio.run(append_once(StorageConfig.sqlite(home / "mopsgate.db"), freeze))
    out = tail(home, 80)
    assert "…" not in out and "freeze" in out and "root" in out, out

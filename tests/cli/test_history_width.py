"""`manifest history` in an 80-column terminal: the rule names in "what changed / why" were
folded mid-word in a 16-column cell; each version is now a paragraph whose text wraps between
words, and a wide terminal still gets the table."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner, Result

from mopsgate.server.cli import app
from mopsgate.server.settings import Settings

RULES = [
    "assistant-archive-lists",
    "assistant-campaign-ops",
    "assistant-update-hubspot",
    "assistant-update-salesforce",
]


def run(settings: Settings, columns: int, *args: str) -> Result:
    where = ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    result = CliRunner().invoke(app, [*args, *where], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result


def test_history_keeps_rule_names_whole(settings: Settings, tmp_path: Path) -> None:
    wider = tmp_path / "wider.toml"
    text = settings.manifest_path.read_text(encoding="utf-8")
    wider.write_text(text.replace("max_records_per_change = 200", "max_records_per_change = 300"))
    run(settings, 200, "manifest", "propose", str(wider))  # recorded, awaiting approval
    out = run(settings, 80, "manifest", "history").stdout
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80, out
    for rule in RULES:
        assert any(rule in line for line in lines), f"{rule} is broken:\n{out}"
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  [0-9a-f]{12}  refused  by ", lines[0])
    assert lines[1].startswith("    proposed, awaits approval: widens")
    wide = run(settings, 250, "manifest", "history").stdout
    assert "┃ when (UTC)" in wide and "assistant-update-salesforce" in wide

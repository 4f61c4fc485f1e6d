"""`manifest explain` in an 80-column terminal: tool names, classes, connectors and rule ids
were folded mid-word ("assis / tant- / read") in its tools table and field names in its
fields table; each now becomes paragraphs that break only between words when the table cannot
show them whole, and a wide terminal still gets the tables."""

from __future__ import annotations

import re

from typer.testing import CliRunner, Result

from mopsgate.server.cli import app
from mopsgate.server.settings import Settings

WHOLE = [
    "propose_add_to_list_everywhere",
    "update_fields",
    "marketo, hubspot, salesforce",
    "rule assistant-campaign-ops",
    "mktoLifecycleStage",
    "Lifecycle_Stage__c",
]


def explain(settings: Settings, columns: int) -> Result:
    args = ["manifest", "explain", "--principal", "assistant"]
    args += ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    result = CliRunner().invoke(app, args, env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result


def test_explain_keeps_names_whole_at_80_columns(settings: Settings) -> None:
    out = explain(settings, 80).stdout
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80, out
    for word in WHOLE:
        assert any(word in line for line in lines), f"{word!r} is broken:\n{out}"
    assert re.search(r"^propose_update_person  update_fields  propose$", out, re.M)
    assert re.search(r"^    writable: .*\bjobtitle\b", out, re.M)


def test_a_wide_terminal_gets_the_tables(settings: Settings) -> None:
    out = explain(settings, 200).stdout
    assert re.search(r"┃ Tool\s+┃ Connectors\s+┃ Class", out)
    assert re.search(r"┃ Object\s+┃ Readable\s+┃ Withheld", out)

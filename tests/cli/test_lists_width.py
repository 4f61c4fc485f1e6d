"""`review list`, `exception list` and `manifest explain` in an 80-column terminal: the ids a
reviewer copies into the next command stay whole, nothing is wider than the terminal, and a
wide terminal still gets the table."""

from __future__ import annotations

import re

from typer.testing import CliRunner, Result

from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.test_cli_signed_decisions import proposed


def run(settings: Settings, columns: int, *args: str) -> Result:
    where = ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    result = CliRunner().invoke(app, [*args, *where], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result


def fits(output: str, columns: int) -> None:
    assert max(len(line) for line in output.splitlines()) <= columns, output
    assert "…" not in output, output


def test_review_list_at_80_columns(settings: Settings) -> None:
    ids = [proposed(settings).id for _ in range(2)]
    out = run(settings, 80, "review", "list").stdout
    fits(out, 80)
    for change_id in ids:
        assert re.search(rf"^{change_id}  proposed  update_fields$", out, re.M), out
    assert out.count('reason (untrusted): "tidy titles"') == 2
    wide = run(settings, 200, "review", "list").stdout
    assert wide.splitlines()[0].split()[:3] == ["id", "status", "risk"]


def test_exception_list_and_explain_at_80_columns(settings: Settings) -> None:
    granted = run(
        settings, 200, "exception", "grant", "--use-case", "reporting",
        "--what", "tool:get_consent_state", "--expires", "7d", "--reviewer", "mops-lead",
        "--ticket", "RISK-7", "--reason", "quarter-end consent audit",
    ).stdout  # fmt: skip
    exception_id = re.search(r"exc_[0-9a-f]{12}", granted)
    assert exception_id is not None, granted
    out = run(settings, 80, "exception", "list").stdout
    fits(out, 80)
    assert f"{exception_id[0]}  reporting  tool:get_consent_state" in out
    explain = run(settings, 80, "manifest", "explain", "--principal", "analyst").stdout
    assert f"{exception_id[0]}  reporting  tool:get_consent_state" in explain
    wide = run(settings, 200, "exception", "list").stdout
    assert re.search(rf"│ {exception_id[0]} │ reporting\s+│ tool:get_consent_state", wide)

"""`review show` of a rejected change says who rejected it and when; it showed the reason
("Status detail") and, above it, the approvals the change had had — not who ended it."""

from __future__ import annotations

import re

from typer.testing import CliRunner, Result

from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.test_cli_signed_decisions import proposed


def review(settings: Settings, *args: str) -> Result:
    where = ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    result = CliRunner().invoke(app, ["review", *args, *where])
    assert result.exit_code == 0, result.output
    return result


def test_show_names_who_rejected(settings: Settings) -> None:
    change = proposed(settings)
    assert "Rejected by" not in review(settings, "show", change.id).output
    review(settings, "reject", change.id, "--reviewer", "compliance", "--reason", "wrong list")
    shown = review(settings, "show", change.id).output
    assert re.search(r"^Rejected by compliance at \d{4}-\d\d-\d\dT[\d:]+\+00:00\.$", shown, re.M)
    assert '"wrong list"' in shown

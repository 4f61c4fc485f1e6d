"""`notify list` fits the terminal: its table was drawn 200 columns wide whatever the
terminal, so an 80-column one wrapped every row across three lines; now it is a paragraph per
message there, with the last error wrapped between words."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner, Result

from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.server.notify_support import RELAY_ENV, SLACK_ENV, add_targets


def run(settings: Settings, *args: str, columns: int = 80) -> Result:
    where = ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    result = CliRunner().invoke(app, [*args, *where], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result


def test_notify_list_at_80_columns(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    add_targets(settings.manifest_path)
    monkeypatch.setenv(RELAY_ENV, "http://127.0.0.1:9/relay")  # nothing listens: refused
    monkeypatch.delenv(SLACK_ENV, raising=False)
    CliRunner().invoke(app, ["db", "upgrade", "--home", str(settings.home)])
    run(settings, "freeze", "--reason", "incident 42")
    run(settings, "notify", "send")
    out = run(settings, "notify", "list").stdout
    body = out.splitlines()[:-1]  # the last line is the count
    assert max(len(line) for line in body) <= 80, out
    assert len(re.findall(r"^\d+  pending  notify\.deliver$", out, re.M)) == 2, out
    assert re.search(r"^    to relay  1 attempt\(s\)  queued \S+$", out, re.M), out
    assert re.search(r"^    last error: no answer \(ConnectError\)$", out, re.M), out
    wide = run(settings, "notify", "list", columns=250).stdout
    assert wide.splitlines()[0].split()[:3] == ["id", "state", "topic"]

"""`mopsgate console` on a state directory without a database (the wrong --home) refuses to
start, as `review list` and `freeze` refuse: it used to make an empty database there and serve
an empty queue, whose freeze button would have stopped no server's applies."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mopsgate.server import cli_console
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings


def test_the_console_refuses_a_state_directory_without_a_database(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def would_serve(host: str, port: int) -> None:
        raise AssertionError("the console got as far as binding its port")

    monkeypatch.setattr(cli_console, "bind_http_socket", would_serve)
    wrong = tmp_path / "not-the-state-dir"
    args = ["console", "--port", "0", "--manifest", str(settings.manifest_path)]
    result = CliRunner().invoke(app, [*args, "--home", str(wrong)])
    assert result.exit_code == 2, result.output
    assert f"no mopsgate state at {wrong / 'mopsgate.db'}; the console was not started" in (
        result.output
    )
    assert not wrong.exists()

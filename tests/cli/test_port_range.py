"""A port outside 0-65535 (a typo, a stray digit in MOPSGATE_PORT) is a usage error naming the
range, exit 2: `serve` used to end in a pydantic traceback about a URL, `console` to say it
could not resolve 127.0.0.1, and `sandbox serve` in an OverflowError traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from mopsgate.server.cli import app
from mopsgate.server.settings import Settings


def serve(settings: Settings, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """``mopsgate serve`` as a client starts it (the console script's own option reader)."""
    done = subprocess.run(
        [sys.executable, "-m", "mopsgate.server.cli", "serve", "--transport", "http", *args,
         "--manifest", str(settings.manifest_path), "--home", str(settings.home)],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "MOPSGATE_SANDBOX": "memory", **(env or {})},
    )  # fmt: skip
    return done.returncode, done.stderr


@pytest.mark.parametrize(
    ("args", "env"), [(["--port", "99999"], {}), ([], {"MOPSGATE_PORT": "-5"})]
)
def test_serve_refuses_a_port_out_of_range(
    settings: Settings, args: list[str], env: dict[str, str]
) -> None:
    code, err = serve(settings, *args, env=env)
    assert code == 2, err
    assert "Traceback" not in err and "Invalid value for '--port'" in err
    assert "65535" in err or "greater than or equal to 0" in err


@pytest.mark.parametrize(
    ("command", "bound"),
    [
        (["console", "--port", "99999"], "65535"),
        (["sandbox", "serve", "--base-port", "65534"], "65533"),
    ],
)
def test_console_and_sandbox_refuse_a_port_out_of_range(
    settings: Settings, command: list[str], bound: str
) -> None:
    result = CliRunner().invoke(app, [*command, "--home", str(settings.home)])
    assert result.exit_code == 2, result.output
    assert f"less than or equal to {bound}" in result.output

"""First run, as a new user meets it: ``make run`` with the port taken, the first (slow) set-up,
and the stdio client config copied from the README or from what ``make run`` prints."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from mopsgate.server.connect_help import (
    ENROL,
    readme_stdio_config,
    serving_banner,
    stdio_config,
)
from mopsgate.server.settings import Settings
from tests.support.cli_forks import cli_forks
from tests.support.stdio_serve import MOPSGATE, mopsgate_env

ROOT = Path(__file__).resolve().parents[2]


def _taken_port() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock


def _serve_http(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """A refused start, run to completion as a process forked from the worker's fork server
    (``tests/support/cli_forks.py``); the banner test starts the console script itself."""
    return cli_forks().run(["serve", "--transport", "http", *args], mopsgate_env(settings, **env))


def test_port_taken_is_one_line_exit_2_and_no_banner(settings: Settings):
    with _taken_port() as busy:
        port = str(busy.getsockname()[1])
        by_flag = _serve_http(settings, "--port", port)
        by_env = _serve_http(settings, MOPSGATE_PORT=port)
    for proc in (by_flag, by_env):
        assert proc.returncode == 2, proc.stderr
        assert f"port {port} on 127.0.0.1 is already in use" in proc.stderr
        assert "--port" in proc.stderr and "MOPSGATE_PORT" in proc.stderr
        assert "is serving" not in proc.stderr and "Traceback" not in proc.stderr
        assert proc.stdout == ""


def test_serve_http_prints_the_banner_then_answers(settings: Settings):
    with _taken_port() as probe:
        port = probe.getsockname()[1]  # free once closed
    proc = subprocess.Popen(
        [MOPSGATE, "serve", "--transport", "http", "--port", str(port)],
        env=mopsgate_env(settings),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stderr is not None
        banner: list[str] = []
        while not banner or "Stop with Ctrl-C." not in banner[-1]:
            line = proc.stderr.readline()
            assert line, "serve exited before printing its banner"
            banner.append(line)
        answer = _post_until_up(f"http://127.0.0.1:{port}/mcp")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
        if proc.stderr is not None:
            proc.stderr.close()
    assert answer.status_code == 401
    assert f"    {ENROL}\n" in banner  # the shipped manifest is sandbox only
    config = _config_in(banner)
    assert config == stdio_config(
        str(Path(MOPSGATE)),
        str(settings.manifest_path.resolve()),
        str(settings.home.resolve()),
    )


def _post_until_up(url: str) -> httpx.Response:
    deadline = time.monotonic() + 20
    while True:
        try:
            return httpx.post(url, json={}, timeout=5)
        except httpx.ConnectError:
            assert time.monotonic() < deadline, "the server never answered"
            time.sleep(0.05)


def _config_in(banner: list[str]) -> Any:
    start = next(i for i, line in enumerate(banner) if "use this config:" in line) + 1
    end = next(i for i, line in enumerate(banner) if "Stop with Ctrl-C." in line)
    return json.loads("".join(banner[start:end]))


def test_readme_stdio_config_is_the_one_make_run_prints():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", readme, re.S)
    stdio = [json.loads(b) for b in blocks if '"mcpServers"' in b]
    assert stdio == [readme_stdio_config()]
    assert "--home" in readme_stdio_config()["mcpServers"]["mopsgate"]["args"]


def test_banner_and_readme_come_from_one_function(settings: Settings):
    banner = serving_banner(settings, "127.0.0.1", 8765, sandbox_only=True).splitlines(
        keepends=True
    )
    printed = _config_in(banner)
    assert (
        printed["mcpServers"]["mopsgate"]["args"][:5]
        == (readme_stdio_config()["mcpServers"]["mopsgate"]["args"][:5])
    )
    assert printed["mcpServers"]["mopsgate"]["args"][-2:] == [
        "--home",
        str(settings.home.resolve()),
    ]


def test_first_set_up_says_what_it_is_doing_before_installing(tmp_path: Path):
    venv = tmp_path / "venv"
    dry = subprocess.run(
        ["make", "-n", "-C", str(ROOT), f"VENV={venv}", f"{venv}/.installed"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    announce = next(i for i, line in enumerate(lines) if "first run" in line)
    install = next(i for i, line in enumerate(lines) if "pip install" in line)
    assert announce < install
    assert "about a minute" in lines[announce]


def test_the_readme_shows_the_one_enrol_command_make_run_prints(settings: Settings):
    readme = (ROOT / "README.md").read_text()
    assert ENROL in readme
    assert ENROL in serving_banner(settings, "127.0.0.1", 8765, sandbox_only=True)
    # With a production connector, enrolment is the manifest owner's edit: not advertised.
    assert ENROL not in serving_banner(settings, "127.0.0.1", 8765, sandbox_only=False)

"""`reviewer enrol` tells the newcomer the command to approve with as they can run it from
where they are: it printed `.venv/bin/mopsgate` whatever the folder, a path that exists only in
the checkout's own root."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.conftest import ROOT

SCRIPT = Path(sys.executable).parent / "mopsgate"


def enrol_line(settings: Settings, tmp_path: Path) -> str:
    settings.manifest_path.write_text((ROOT / "permissions.toml").read_text())
    args = ["reviewer", "enrol", "--reviewer", "mops-lead"]
    args += ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    env = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "PATH": "/usr/bin:/bin"}
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 0, result.output
    (line,) = [ln for ln in result.output.splitlines() if "approve in the CLI" in ln]
    return line.split(": ", 1)[1]


def test_from_another_folder_the_command_is_absolute(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert enrol_line(settings, tmp_path) == f"{SCRIPT} review approve ID --reviewer mops-lead"


def test_from_the_checkout_it_is_relative(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(SCRIPT.parent.parent.parent)  # the folder holding .venv
    line = enrol_line(settings, tmp_path)
    assert line == ".venv/bin/mopsgate review approve ID --reviewer mops-lead"
    assert (Path.cwd() / line.split()[0]).exists()

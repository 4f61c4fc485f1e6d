"""A command run where there is no manifest (another directory than the checkout, most often)
says that there is none at the path it tried, and how to point at one, rather than calling a
file that does not exist "not a valid manifest"; a manifest that is there but broken names its
first problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mopsgate.server.cli_app import app

COMMANDS = [
    pytest.param(["token", "create", "--principal", "assistant"], id="token-create"),
    pytest.param(["report", "risk-review"], id="report"),
    pytest.param(["reviewer", "enrol", "--reviewer", "mops-lead"], id="reviewer-enrol"),
    pytest.param(["console"], id="console"),
    pytest.param(["review", "approve", "chg_0123456789ab", "--reviewer", "x"], id="approve"),
]


def _run(tmp_path: Path, manifest: Path, args: list[str]) -> str:
    home = tmp_path / "home"
    CliRunner().invoke(app, ["db", "upgrade", "--home", str(home)])  # state a server made
    result = CliRunner().invoke(app, [*args, "--manifest", str(manifest), "--home", str(home)])
    assert result.exit_code == 2, result.output
    return " ".join(result.output.split())


@pytest.mark.parametrize("args", COMMANDS)
def test_no_manifest_there_is_said_with_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.delenv("MOPSGATE_DATABASE_URL", raising=False)
    manifest = tmp_path / "elsewhere" / "permissions.toml"
    said = _run(tmp_path, manifest, args)
    assert f"no manifest at {manifest}" in said, said
    assert "--manifest" in said and "MOPSGATE_MANIFEST" in said
    assert "not a valid manifest" not in said


@pytest.mark.parametrize("args", COMMANDS)
def test_a_broken_manifest_names_its_first_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.delenv("MOPSGATE_DATABASE_URL", raising=False)
    manifest = tmp_path / "permissions.toml"
    manifest.write_text("version = 1\n[[rules]\n")
    said = _run(tmp_path, manifest, args)
    assert f"{manifest} is not a valid manifest" in said, said
    assert f"{manifest}:2:" in said and "mopsgate manifest check" in said, said

"""A file named on the command line that cannot be written (its folder does not exist, or it
is a folder) is one line naming it, exit 2 — never a traceback — and a checkpoint file that is
not there is a mistyped path, not evidence of tampering."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from mopsgate.storage import append_once
from tests.test_cli_signed_decisions import proposed


def run(settings: Settings, *args: str) -> Result:
    env = {"MOPSGATE_MANIFEST": str(settings.manifest_path), "MOPSGATE_HOME": str(settings.home)}
    return CliRunner().invoke(app, list(args), env=env)


@pytest.mark.parametrize(
    "command",
    [
        ["report", "risk-review", "--format", "html", "--out"],
        ["audit", "export", "-o"],
        ["audit", "query", "--format", "csv", "-o"],
        ["audit", "checkpoint", "--reviewer", "mops-lead", "--out"],
        ["manifest", "schema", "-o"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
def test_an_output_path_in_a_missing_folder_is_one_line(
    settings: Settings, tmp_path: Path, command: list[str]
) -> None:
    proposed(settings)  # a state directory with a change
    asyncio.run(append_once(settings.storage(), AuditEvent(kind="review", principal="mops-lead")))
    target = tmp_path / "no-such-folder" / "out.file"
    result = run(settings, *command, str(target))
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"mopsgate: {target}: No such file or directory"), result.output
    assert "Traceback" not in result.output and len(result.output.splitlines()) == 1


def test_a_folder_as_output_is_one_line(settings: Settings, tmp_path: Path) -> None:
    proposed(settings)
    result = run(settings, "review", "sign", proposed(settings).id, "--reviewer", "mops-lead",
                 "--decision", "approve", "-o", str(tmp_path))  # fmt: skip
    assert result.exit_code == 2, result.output
    assert f"mopsgate: {tmp_path}: Is a directory (name a file, not a folder)" in result.output


def test_a_missing_checkpoint_is_not_called_tampering(settings: Settings, tmp_path: Path) -> None:
    proposed(settings)
    result = run(settings, "audit", "verify", "--against", str(tmp_path / "typo.json"))
    assert result.exit_code == 2
    assert "TAMPERED" not in result.output
    assert f"no checkpoint file at {tmp_path / 'typo.json'}" in result.output


def test_a_state_directory_that_cannot_be_made_is_one_line(
    settings: Settings, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    home = blocker / "state"
    where = ["--manifest", str(settings.manifest_path), "--home", str(home)]
    result = CliRunner().invoke(app, ["token", "create", "--principal", "assistant", *where])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"mopsgate: cannot set up the state directory {home} (")
    assert "pass --home (or set MOPSGATE_HOME)" in result.output
    served = subprocess.run(
        [sys.executable, "-m", "mopsgate.server.cli", "serve", "--transport", "stdio",
         "--principal", "assistant", *where],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert served.returncode == 2, served.stderr
    assert "Traceback" not in served.stderr
    assert "refusing to start: cannot set up the state directory" in served.stderr

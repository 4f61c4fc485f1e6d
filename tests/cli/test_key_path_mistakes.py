"""`--key` mistakes a reviewer makes, told as what they are: a mistyped path is not "run
reviewer keygen" (their key exists; a second one would need declaring again), and a file that
is no key at all is not "chmod 600" advice about it."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from mopsgate.governance.change_model import ChangeStatus
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.support.changes import stored_change
from tests.test_cli_signed_decisions import proposed


def approve(settings: Settings, key: Path) -> Result:
    change = proposed(settings)
    where = ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    result = CliRunner().invoke(
        app, ["review", "approve", change.id, "--reviewer", "mops-lead", "--key", str(key), *where]
    )
    assert result.exit_code == 1
    assert stored_change(settings, change.id).status is ChangeStatus.PROPOSED
    return result


def test_a_mistyped_key_path_is_called_one(settings: Settings, tmp_path: Path) -> None:
    result = approve(settings, tmp_path / "mops-lead.pme")
    assert f"there is no file {tmp_path / 'mops-lead.pme'}; check the --key path" in result.output
    assert "keygen" not in result.output


def test_a_file_that_is_no_key_is_not_told_to_chmod(settings: Settings, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a key\n", encoding="utf-8")
    notes.chmod(0o644)
    result = approve(settings, notes)
    assert f"{notes} is not a usable key" in result.output and "chmod" not in result.output

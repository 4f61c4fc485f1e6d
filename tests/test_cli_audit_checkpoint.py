"""A signed checkpoint catches what the hash chain alone cannot (catalogue L-04).

Someone with write access to the database rewrites the whole chain consistently (here: the
log deleted and written again by the audit writer itself, with other content), or cuts its
tail. ``audit verify`` passes — expected, a chain only proves rows against their neighbours —
but ``audit verify --against`` fails: the reviewer-signed head kept off the server no longer
matches. The checkpoint is signed with the reviewer's own key (their config directory, never
the state directory) and refused if written into the state directory.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.audit_checkpoint import Checkpoint, sign_checkpoint
from mopsgate.governance.reviewer_keys import new_private_key
from mopsgate.server.cli_audit import audit_app
from mopsgate.server.settings import Settings
from mopsgate.storage import StorageConfig, append_once

runner = CliRunner()


def _write(settings: Settings, who: str, n: int) -> None:
    settings.home.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        event = AuditEvent(kind="tool_call", principal=who, tool=f"get_person#{i}")
        asyncio.run(append_once(StorageConfig.sqlite(settings.db_path), event))


@pytest.fixture
def signed(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three rows and a checkpoint of them signed by mops-lead, kept outside the state dir."""
    monkeypatch.setenv("MOPSGATE_MANIFEST", str(settings.manifest_path))
    _write(settings, "assistant", 3)
    out = tmp_path / "offsite" / "checkpoint.json"
    out.parent.mkdir()
    result = _cli("checkpoint", "--reviewer", "mops-lead", "--out", str(out), home=settings.home)
    assert result.exit_code == 0, result.output
    assert "Signed checkpoint: seq=3" in result.output
    return out


def _cli(*args: str, home: Path) -> Result:
    return runner.invoke(audit_app, [*args, "--home", str(home)])


def _verify(settings: Settings, against: Path | None = None) -> Result:
    extra = ("--against", str(against)) if against else ()
    return _cli("verify", *extra, home=settings.home)


def test_a_consistent_rewrite_verifies_locally_but_not_against_the_checkpoint(
    settings: Settings, signed: Path
):
    held = _verify(settings, signed)
    assert held.exit_code == 0 and "still holds the signed checkpoint" in held.output, held.output
    for path in settings.home.glob("mopsgate.db*"):
        path.unlink()
    _write(settings, "someone-else", 4)  # a whole new, internally consistent chain
    local = _verify(settings)
    assert local.exit_code == 0 and local.output.startswith("OK: 4 rows, chain intact")
    caught = _verify(settings, signed)
    assert caught.exit_code == 1, caught.output
    assert "TAMPERED: row seq=3 has hash" in caught.output and "rewritten" in caught.output


def test_a_cut_tail_fails_against_the_checkpoint(settings: Settings, signed: Path):
    import sqlite3

    with sqlite3.connect(settings.db_path) as conn:
        conn.execute("DELETE FROM audit_log WHERE seq > 1")
    assert _verify(settings).exit_code == 0
    caught = _verify(settings, signed)
    assert caught.exit_code == 1 and "seq=3 of the checkpoint is missing" in caught.output


def test_an_altered_or_undeclared_checkpoint_is_refused(
    settings: Settings, signed: Path, tmp_path: Path
):
    doc = json.loads(signed.read_text())
    doc["checkpoint"]["seq"] = 2
    altered = tmp_path / "altered.json"
    altered.write_text(json.dumps(doc))
    caught = _verify(settings, altered)
    assert caught.exit_code == 1 and "signature does not match" in caught.output, caught.output
    forged = tmp_path / "forged.json"
    head = json.loads(signed.read_text())["checkpoint"]
    forged.write_text(json.dumps(sign_checkpoint(Checkpoint(**head), new_private_key())))
    caught = _verify(settings, forged)
    assert caught.exit_code == 1 and "does not declare" in caught.output, caught.output


def test_the_checkpoint_never_goes_into_the_state_directory(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("MOPSGATE_MANIFEST", str(settings.manifest_path))
    _write(settings, "assistant", 2)
    inside = settings.home / "checkpoint.json"
    result = _cli("checkpoint", "--reviewer", "mops-lead", "--out", str(inside), home=settings.home)
    assert result.exit_code == 1 and "inside the state directory" in result.output
    assert not inside.exists()


def test_a_chain_that_does_not_verify_is_not_signed(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import sqlite3

    monkeypatch.setenv("MOPSGATE_MANIFEST", str(settings.manifest_path))
    _write(settings, "assistant", 3)
    with sqlite3.connect(settings.db_path) as conn:
        conn.execute("UPDATE audit_log SET principal = 'x' WHERE seq = 2")
    out = tmp_path / "cp.json"
    result = _cli("checkpoint", "--reviewer", "mops-lead", "--out", str(out), home=settings.home)
    assert result.exit_code == 1 and "Refusing to sign" in result.output and not out.exists()

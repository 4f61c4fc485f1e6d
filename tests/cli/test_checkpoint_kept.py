"""`audit checkpoint --out` never writes over an earlier checkpoint: that file is the evidence
that the log up to it was not rewritten since, and a new one signed over a rewritten log would
have replaced it without a word."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner, Result

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings, ensure_home
from mopsgate.storage import append_once


def checkpoint(settings: Settings, out: Path) -> Result:
    env = {"MOPSGATE_MANIFEST": str(settings.manifest_path)}
    args = ["audit", "checkpoint", "--reviewer", "mops-lead", "--out", str(out)]
    return CliRunner().invoke(app, [*args, "--home", str(settings.home)], env=env)


def test_an_existing_checkpoint_is_kept(settings: Settings, tmp_path: Path) -> None:
    ensure_home(settings)
    asyncio.run(append_once(settings.storage(), AuditEvent(kind="review", principal="x")))
    out = tmp_path / "checkpoint.json"
    assert checkpoint(settings, out).exit_code == 0
    first = out.read_text(encoding="utf-8")
    asyncio.run(append_once(settings.storage(), AuditEvent(kind="review", principal="y")))
    again = checkpoint(settings, out)
    assert again.exit_code == 1
    assert f"{out} exists already (an earlier checkpoint?); it is kept" in again.output
    assert out.read_text(encoding="utf-8") == first
    assert checkpoint(settings, tmp_path / "checkpoint-2.json").exit_code == 0

"""`mopsgate reviewer enrol`: the sandbox first run in one command — a signing key made and
declared, a passkey invite printed — and never on a manifest with a production connector."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner, Result

from mopsgate.governance.manifest_load import load_manifest
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.conftest import ROOT, audit_rows

runner = CliRunner()


def enrol(settings: Settings, xdg: Path, reviewer: str = "mops-lead") -> Result:
    args = ["reviewer", "enrol", "--reviewer", reviewer]
    args += ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    return runner.invoke(app, args, env={"XDG_CONFIG_HOME": str(xdg)})


def test_one_command_enrols_a_sandbox_reviewer(settings: Settings, tmp_path: Path) -> None:
    settings.manifest_path.write_text((ROOT / "permissions.toml").read_text())
    result = enrol(settings, tmp_path / "xdg")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "xdg" / "mopsgate" / "reviewers" / "mops-lead.pem").exists()
    manifest = load_manifest(settings.manifest_path, build_catalogue())
    assert len(manifest.reviewers["mops-lead"].keys) == 1
    assert re.search(r"http://localhost:8766/enrol/\S+", result.output)
    assert "review approve ID --reviewer mops-lead" in result.output
    again = enrol(settings, tmp_path / "xdg")  # idempotent: same key, nothing declared twice
    assert again.exit_code == 0, again.output
    assert (
        len(load_manifest(settings.manifest_path, build_catalogue()).reviewers["mops-lead"].keys)
        == 1
    )
    tools = [r["tool"] for r in audit_rows(settings) if r["kind"] == "enrolment"]
    assert tools == ["reviewer enrol", "reviewer invite"] * 2


def test_enrol_refuses_a_manifest_with_a_production_connector(
    settings: Settings, tmp_path: Path
) -> None:
    text = (ROOT / "permissions.toml").read_text()
    production = text.replace(
        '[connectors.hubspot]\nenvironment = "sandbox"',
        '[connectors.hubspot]\nenvironment = "production"',
    )
    assert production != text
    # Production needs one more approval per change: a third reviewer makes that possible.
    production += '\n[reviewers.ops3]\nroles = ["mops", "compliance"]\n'
    production += 'risk_classes = ["update_fields", "audience", "lifecycle", "consent", "send"]\n'
    settings.manifest_path.write_text(production)
    result = enrol(settings, tmp_path / "xdg")
    assert result.exit_code == 1
    assert "production connectors (hubspot)" in result.output
    assert settings.manifest_path.read_text() == production


def test_an_invite_needs_a_known_reviewer(settings: Settings) -> None:
    args = ["reviewer", "invite", "--reviewer", "nobody", "--manifest", str(settings.manifest_path)]
    result = runner.invoke(app, [*args, "--home", str(settings.home)])
    assert result.exit_code == 1 and "is not a reviewer" in result.output

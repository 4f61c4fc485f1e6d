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
from tests.support.changes import stored_change
from tests.support.reviewers import declare_keys
from tests.test_cli_signed_decisions import proposed, refusal_row

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


def production_manifest() -> str:
    text = (ROOT / "permissions.toml").read_text()
    production = text.replace(
        '[connectors.hubspot]\nenvironment = "sandbox"',
        '[connectors.hubspot]\nenvironment = "production"',
    )
    assert production != text
    # Production needs one more approval per change: a third reviewer makes that possible.
    production += '\n[reviewers.ops3]\nroles = ["mops", "compliance"]\n'
    production += 'risk_classes = ["update_fields", "audience", "lifecycle", "consent", "send"]\n'
    return production


def test_enrol_refuses_a_manifest_with_a_production_connector(
    settings: Settings, tmp_path: Path
) -> None:
    production = production_manifest()
    settings.manifest_path.write_text(production)
    result = enrol(settings, tmp_path / "xdg")
    assert result.exit_code == 1
    assert "production connectors (hubspot)" in result.output
    assert settings.manifest_path.read_text() == production


def test_an_invite_needs_a_known_reviewer(settings: Settings) -> None:
    args = ["reviewer", "invite", "--reviewer", "nobody", "--manifest", str(settings.manifest_path)]
    result = runner.invoke(app, [*args, "--home", str(settings.home)])
    assert result.exit_code == 1 and "is not a reviewer" in result.output


# Names a setting to switch proof off might plausibly have; none exists, and none may.
OFF_SWITCHES = ("require_signatures = false", "unsigned_approvals = true", 'proof = "off"')


def test_no_setting_turns_proof_off_for_a_production_connector(settings: Settings) -> None:
    """On a manifest with a production connector, a decision still needs the reviewer's own
    key: no environment setting changes that, the strict manifest refuses any key that tries,
    and the one-command sandbox enrolment refuses to declare keys there."""
    production = production_manifest()
    settings.manifest_path.write_text(production)
    declare_keys(settings.manifest_path, ("mops-lead", "compliance"))
    change = proposed(settings)
    loose = {  # every setting mopsgate reads, set as loosely as it goes
        "MOPSGATE_SANDBOX": "persistent",
        "MOPSGATE_CONSOLE_URL": "http://localhost:1",
        "MOPSGATE_CONSOLE_IDLE_SECONDS": "999999",
        "MOPSGATE_PRINCIPAL": "mops-lead",
        "XDG_CONFIG_HOME": str(settings.home.parent / "empty-config"),
    }
    args = ["review", "approve", change.id, "--reviewer", "mops-lead"]
    args += ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    result = runner.invoke(app, args, env=loose)
    assert result.exit_code == 1 and "no usable signing key" in result.output
    assert refusal_row(settings)["error_code"] == "no_key"
    assert stored_change(settings, change.id).approvals == []
    declared = settings.manifest_path.read_text()
    for switch in OFF_SWITCHES:
        for table in ("", "[approvals.send]\n", "[reviewers.mops-lead]\n"):
            assert table in declared
            where = (
                declared.replace(table, table + switch + "\n", 1)
                if table
                else switch + "\n" + declared
            )
            settings.manifest_path.write_text(where)
            checked = runner.invoke(app, ["manifest", "check", str(settings.manifest_path)])
            assert checked.exit_code != 0, (switch, table, checked.output)

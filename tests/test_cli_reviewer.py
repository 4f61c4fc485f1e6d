"""`mopsgate reviewer keygen`: the key goes to the reviewer's own config dir (0600), never the
state directory, is never overwritten, and the printed table declares it in the manifest."""

from __future__ import annotations

import stat
from pathlib import Path

from typer.testing import CliRunner, Result

from mopsgate.governance.manifest_load import load_manifest
from mopsgate.governance.public_keys import ed25519_fingerprint
from mopsgate.governance.reviewer_proof import declared_keys
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows

runner = CliRunner()


def keygen(settings: Settings, xdg: Path, reviewer: str = "mops-lead") -> Result:
    args = ["reviewer", "keygen", "--reviewer", reviewer]
    args += ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    return runner.invoke(app, args, env={"XDG_CONFIG_HOME": str(xdg)})


def test_keygen_writes_a_private_key_and_prints_the_table_to_declare(
    settings: Settings, tmp_path: Path
) -> None:
    xdg = tmp_path / "xdg"
    result = keygen(settings, xdg)
    assert result.exit_code == 0, result.output
    path = xdg / "mopsgate" / "reviewers" / "mops-lead.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert b"BEGIN PRIVATE KEY" in path.read_bytes()
    output = result.output
    table = output[output.index("[[reviewers.mops-lead.keys]]") :]
    with settings.manifest_path.open("a") as fh:
        fh.write("\n" + table)
    manifest = load_manifest(settings.manifest_path, build_catalogue())
    printed = table.split('"')[1]
    fingerprint = ed25519_fingerprint(printed)
    assert fingerprint in declared_keys(manifest, "mops-lead")
    (row,) = [r for r in audit_rows(settings) if r["kind"] == "enrolment"]
    assert row["tool"] == "reviewer keygen"
    assert fingerprint in row["arguments"]


def test_keygen_never_overwrites_nor_writes_into_the_state_directory(
    settings: Settings, tmp_path: Path
) -> None:
    xdg = tmp_path / "xdg"
    assert keygen(settings, xdg).exit_code == 0
    before = (xdg / "mopsgate" / "reviewers" / "mops-lead.pem").read_bytes()
    again = keygen(settings, xdg)
    assert again.exit_code == 1
    assert "already exists" in again.output
    assert (xdg / "mopsgate" / "reviewers" / "mops-lead.pem").read_bytes() == before
    inside = keygen(settings, settings.home / "cfg")
    assert inside.exit_code == 1
    assert "inside the state directory" in inside.output
    assert not (settings.home / "cfg" / "mopsgate").exists()


def test_keygen_for_a_name_the_manifest_lacks_says_so(settings: Settings, tmp_path: Path) -> None:
    result = keygen(settings, tmp_path / "xdg", "nobody")
    assert result.exit_code == 0
    assert "has no [reviewers.nobody] yet" in result.output

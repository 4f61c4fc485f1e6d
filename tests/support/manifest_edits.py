"""Approving a widening manifest edit the way a reviewer does (`mopsgate manifest approve`),
for tests that edit the manifest of a running server but are about something else: a widening
edit takes effect only once approved (catalogue M-17, tests/server/test_manifest_change_process.py).
"""

from __future__ import annotations

from typer.testing import CliRunner

from mopsgate.governance.manifest_load import load_manifest, manifest_digest
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings


def digest_of_file(settings: Settings) -> str:
    return manifest_digest(load_manifest(settings.manifest_path, build_catalogue()))


def approve_edit(settings: Settings, reviewer: str = "mops-lead") -> str:
    """Sign the approval of the manifest file as it now stands, against the version the server
    has in force; its output (the CLI's)."""
    where = ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    digest = digest_of_file(settings)
    args = ["manifest", "approve", digest, "--reviewer", reviewer, "--file"]
    result = CliRunner().invoke(app, [*args, str(settings.manifest_path), *where])
    assert result.exit_code == 0, result.output
    return result.output

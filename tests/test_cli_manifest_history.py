"""`mopsgate manifest history` and `manifest diff`: every version a server put in force, who
loaded it (with its git commit and author in a checkout), and every edit it refused, why."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp import Client
from typer.testing import CliRunner

from mopsgate.governance.manifest_load import load_manifest, manifest_digest
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.server.test_changes_kit import ok


def run(settings: Settings, *args: str) -> Any:
    return CliRunner(env={"COLUMNS": "250"}).invoke(
        app, [*args, "--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    )


def git(folder: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Ada Admin", "-c", "user.email=ada@example.com", *args],
        cwd=folder, check=True, capture_output=True,
    )  # fmt: skip


def digest_of(path: Path) -> str:
    return manifest_digest(load_manifest(path, build_catalogue()))


async def test_history_and_diff_of_a_served_manifest(
    settings: Settings, connect: Callable[..., Client]
) -> None:
    path = settings.manifest_path
    git(path.parent, "init", "-q")
    git(path.parent, "add", path.name)
    git(path.parent, "commit", "-q", "-m", "first policy")
    first = digest_of(path)
    good = path.read_text()
    async with connect("assistant") as client:
        await ok(client, "whoami")
        path.write_text(
            good.replace("max_records_per_change = 200", "max_records_per_change = 0", 1)
        )
        await ok(client, "whoami")  # refused: the old version stays in force
        path.write_text(good.replace('purpose = "Keep campaign', 'purpose = "Tidy campaign', 1))
        await ok(client, "whoami")
    second = digest_of(path)
    async with connect("assistant") as client:  # a restart with the same version adds nothing
        await ok(client, "whoami")
    shown = run(settings, "manifest", "history")
    assert shown.exit_code == 0, shown.output
    lines = [line for line in shown.stdout.splitlines() if "│" in line and "202" in line]
    assert len(lines) == 3
    assert first[:12] in lines[0] and "in force" in lines[0] and "Ada Admin" in lines[0]
    assert "first version recorded" in lines[0]
    assert "refused" in lines[1] and "max_records_per_change" in lines[1]
    assert second[:12] in lines[2] and "+dirty" in lines[2]
    assert "changed use case campaign-ops (purpose)" in lines[2]

    diff = run(settings, "manifest", "diff", first[:10], second[:10])
    assert diff.exit_code == 0, diff.output
    assert "changed use case campaign-ops (purpose)" in diff.stdout
    assert '-purpose = "Keep campaign' in diff.stdout and '+purpose = "Tidy campaign' in diff.stdout
    unknown = run(settings, "manifest", "diff", "ffff", second[:10])
    assert unknown.exit_code == 2 and "matches no recorded version" in unknown.output

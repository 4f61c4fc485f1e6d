"""Who may write the manifest decides what the assistant may do (catalogue M-18, M-19).

A manifest writable by group or others, owned by another user, or a symbolic link swapped to a
file elsewhere is refused — at start-up (exit 2, nothing served), by ``manifest check``, and on
hot reload, where the refusal is audited and the last good manifest stays in force.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from mcp import Client

from mopsgate.governance.errors import ManifestError
from mopsgate.governance.manifest_load import load_manifest
from mopsgate.server.app import Runtime, build_runtime, build_server
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.server.test_changes_kit import MK
from tests.server.test_reload import _narrow_analyst
from tests.server.test_transports import _serve


def _refusal(path: Path, runtime: Runtime) -> str:
    with pytest.raises(ManifestError) as info:
        load_manifest(path, runtime.holder.catalogue)
    return info.value.problems[0].message


@pytest.mark.parametrize("mode", [0o666, 0o664, 0o646, 0o620])
def test_a_manifest_others_can_write_is_refused(mode: int, manifest_path: Path, runtime):
    manifest_path.chmod(mode)
    message = _refusal(manifest_path, runtime)
    assert "writable by group or others" in message and f"chmod go-w {manifest_path}" in message
    manifest_path.chmod(0o640)  # group may read, not write: fine
    load_manifest(manifest_path, runtime.holder.catalogue)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_a_manifest_owned_by_another_user_is_refused(manifest_path: Path, runtime):
    os.chown(manifest_path, 54321, -1)
    assert "owned by uid 54321" in _refusal(manifest_path, runtime)


def test_a_symlink_out_of_the_manifest_directory_is_refused(tmp_path: Path, runtime):
    config, elsewhere = tmp_path / "config", tmp_path / "attacker"
    config.mkdir()
    elsewhere.mkdir()
    real = config / "permissions.real.toml"
    shutil.copy(runtime.settings.manifest_path, real)
    link = config / "permissions.toml"
    link.symlink_to(real.name)  # a link inside its own directory is fine
    load_manifest(link, runtime.holder.catalogue)
    shutil.copy(real, elsewhere / "permissions.toml")
    link.unlink()
    link.symlink_to(elsewhere / "permissions.toml")
    message = _refusal(link, runtime)
    assert "symbolic link" in message and str(elsewhere) in message


def test_start_up_refuses_a_group_writable_manifest(settings: Settings):
    settings.manifest_path.chmod(0o664)
    proc = _serve(settings, "--transport", "stdio", "--principal", "assistant")
    assert proc.returncode == 2, proc.stderr
    assert "writable by group or others" in proc.stderr
    assert proc.stdout == ""


async def test_reload_to_a_writable_or_swapped_manifest_keeps_the_last_good(
    connect, manifest_path: Path, settings: Settings, tmp_path: Path
):
    async with connect("analyst") as client:
        good = (await client.call_tool("whoami", {})).structured_content["manifest_digest"]
        _narrow_analyst(manifest_path)  # a narrowing edit, but anyone may have written it
        manifest_path.chmod(0o666)
        assert not (await client.call_tool("list_campaigns", {"connector": "hubspot"})).is_error
        who = await client.call_tool("whoami", {})
        assert who.structured_content["manifest_digest"] == good
    rows = [r for r in audit_rows(settings) if r["kind"] == "manifest_reload"]
    assert [r["outcome"] for r in rows] == ["refused"]
    assert "writable by group or others" in rows[0]["reason"]


PHONE_DENY = "# A deny rule that withholds fields rather than a tool"


def _settled(path: Path) -> None:
    """The file as it is once its writer is long done: last modified ten seconds ago."""
    old = path.stat().st_mtime - 10
    os.utime(path, (old, old))


async def _phone_withheld(client) -> bool:
    result = await client.call_tool("get_person", {"ref": MK.ref(3)})
    person = result.structured_content
    assert person is not None, result.content
    return "phone" in {w["field"] for w in person["withheld"]}


async def test_a_half_written_manifest_is_never_applied(manifest_path: Path, settings: Settings):
    """M-15: ``cp`` truncates, writes the first part — a valid manifest that lacks the deny
    rule withholding phone numbers — and pauses. Calls during the pause run under the manifest
    in force; once the whole file is written and settled, that file takes effect."""
    runtime = build_runtime(replace(settings, manifest_settle_seconds=1.0), env={})
    server = build_server(runtime, transport="memory", resolve_principal=lambda _: "analyst")
    full = manifest_path.read_text().replace('"find_duplicates", "api_budget"]', '"api_budget"]')
    assert full.count("find_duplicates") < manifest_path.read_text().count("find_duplicates")
    async with Client(server) as client:
        before = (await client.call_tool("whoami", {})).structured_content["manifest_digest"]
        assert await _phone_withheld(client)
        manifest_path.write_text(full[: full.index(PHONE_DENY)])  # the first part only
        for _ in range(3):
            assert await _phone_withheld(client)
        who = await client.call_tool("whoami", {})
        assert who.structured_content["manifest_digest"] == before
        manifest_path.write_text(full)  # the rest arrives
        _settled(manifest_path)
        assert await _phone_withheld(client)
        after = (await client.call_tool("whoami", {})).structured_content["manifest_digest"]
        assert after != before
        assert (await client.call_tool("find_duplicates", {"connector": "hubspot"})).is_error
    rows = [r for r in audit_rows(settings) if r["kind"] == "manifest_reload"]
    assert [r["outcome"] for r in rows] == ["ok"]  # one reload: to the whole file

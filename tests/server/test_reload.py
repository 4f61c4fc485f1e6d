"""Hot reload: a valid edit takes effect on the next call and clients hear tools/list_changed;
a broken edit is refused, audited, and the last good manifest stays in force."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import anyio
from mcp.types import ToolListChangedNotification

from mopsgate.server.app import Runtime
from tests.conftest import audit_rows, text_of
from tests.support.manifest_edits import approve_edit

ANALYST_RULE = re.compile(r'(id = "analyst-read".*?\ntools = )\[.*?\]', re.S)


def _narrow_analyst(path: Path) -> None:
    text, n = ANALYST_RULE.subn(r'\1["list_lists"]', path.read_text())
    assert n == 1
    path.write_text(text)


async def test_valid_edit_takes_effect_on_next_call(connect, manifest_path, settings):
    async with connect("analyst") as client:
        before = {t.name for t in (await client.list_tools()).tools}
        _narrow_analyst(manifest_path)
        after = {t.name for t in (await client.list_tools()).tools}
        refused = await client.call_tool("list_campaigns", {"connector": "hubspot"})
    assert "list_campaigns" in before and "list_campaigns" not in after
    assert "list_lists" in after
    assert refused.is_error and "[not_permitted]" in refused.content[0].text
    reloads = [r for r in audit_rows(settings) if r["kind"] == "manifest_reload"]
    assert len(reloads) == 1 and reloads[0]["outcome"] == "ok"


def watch_quickly(runtime: Runtime) -> None:
    """Only the watcher can notice the edit (no call follows it, and the background sender,
    which reads the manifest at each pass, is off), and it looks every twentieth of a second
    rather than every second as in a real server."""
    runtime.manifest_watch_seconds = 0.05
    runtime.notify_background = False


async def test_modern_client_hears_list_changed(connect, manifest_path, runtime: Runtime):
    watch_quickly(runtime)
    async with connect("analyst") as client:
        await client.list_tools()
        async with client.listen(tools_list_changed=True) as sub:
            _narrow_analyst(manifest_path)
            with anyio.fail_after(5):
                event = await sub.__anext__()
    assert type(event).__name__ == "ToolsListChanged"


async def test_legacy_client_hears_list_changed(connect, manifest_path, runtime: Runtime):
    watch_quickly(runtime)
    seen: list[str] = []

    async def handler(message: Any) -> None:
        if isinstance(message, ToolListChangedNotification):
            seen.append("changed")

    async with connect("analyst", mode="legacy", message_handler=handler) as client:
        await client.list_tools()
        _narrow_analyst(manifest_path)
        with anyio.fail_after(5):
            while not seen:
                await anyio.sleep(0.05)
    assert seen


async def test_broken_edit_is_refused_and_last_good_stays(connect, manifest_path, settings):
    async with connect("analyst") as client:
        good = await client.call_tool("whoami", {})
        original = manifest_path.read_text()
        manifest_path.write_text(original + "\n[[rules]\nid = 'oops'\n")
        still = await client.call_tool("list_lists", {"connector": "hubspot"})
        who = await client.call_tool("whoami", {})
    assert not still.is_error
    assert who.structured_content["manifest_digest"] == good.structured_content["manifest_digest"]
    refused = [r for r in audit_rows(settings) if r["kind"] == "manifest_reload"]
    assert len(refused) == 1 and refused[0]["outcome"] == "refused"
    bad_line = len(original.splitlines()) + 2
    assert f"permissions.toml:{bad_line}:8: invalid TOML" in refused[0]["reason"]


async def test_deleted_manifest_keeps_last_good(connect, manifest_path, settings):
    async with connect("analyst") as client:
        manifest_path.unlink()
        result = await client.call_tool("whoami", {})
    assert not result.is_error
    assert [r["outcome"] for r in audit_rows(settings) if r["kind"] == "manifest_reload"] == [
        "refused"
    ]


async def test_reload_to_production_without_credentials_fails_closed(
    connect, manifest_path, settings
):
    """A valid reload may switch a connector to production; with no credentials configured the
    next call on it is refused with the variable to set, and nothing reaches any vendor."""
    text = manifest_path.read_text()
    text = text.replace(
        '[connectors.hubspot]\nenvironment = "sandbox"',
        '[connectors.hubspot]\nenvironment = "production"',
    )
    # production needs one more approval per class: give send and consent a third reviewer
    text += (
        '\n[reviewers.deputy-compliance]\nroles = ["compliance"]\n'
        'risk_classes = ["consent", "send", "update_fields", "audience", "lifecycle"]\n'
    )
    async with connect("analyst") as client:
        manifest_path.write_text(text)
        approve_edit(settings)  # a new reviewer and production widen: approved (M-17)
        result = await client.call_tool("list_lists", {"connector": "hubspot"})
    assert result.is_error
    assert "HUBSPOT_ACCESS_TOKEN is not set" in text_of(result)
    assert audit_rows(settings)[-1]["outcome"] == "error"

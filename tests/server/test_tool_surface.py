"""The tool surface a client pins (catalogue M-20, I-20, M-17): a reload that removes a tool
leaves every other tool's description and schemas byte-identical; the listing does not depend
on anything but the tool set (not the run, not the manifest's wording or order); and a reload
that widens rights is on record with the digests it moved between."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mcp import Client

from mopsgate.server.app import build_runtime, build_server
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.server.test_reload import _narrow_analyst
from tests.support.manifest_edits import approve_edit


def _fingerprints(tools: list[Any]) -> dict[str, str]:
    return {
        t.name: hashlib.sha256(
            json.dumps(t.model_dump(mode="json", exclude={"meta"}), sort_keys=True).encode()
        ).hexdigest()
        for t in tools
    }


def _as(principal: str) -> Any:
    """A resolver that always names this principal."""
    return lambda _ctx: principal


async def test_a_reload_that_removes_tools_leaves_the_others_byte_identical(
    connect, manifest_path, settings: Settings
):
    async with connect("analyst") as client:
        before = _fingerprints((await client.list_tools()).tools)
        _narrow_analyst(manifest_path)
        after = _fingerprints((await client.list_tools()).tools)
    assert set(after) < set(before)
    assert after == {name: before[name] for name in after}


async def test_the_listing_depends_only_on_the_tool_set(settings: Settings, manifest_path):
    """Two servers, the second on the same manifest reworded (comments, rule order): the same
    bytes for every tool of every principal."""
    listings = []
    for variant in ("as shipped", "reworded"):
        if variant == "reworded":
            text = manifest_path.read_text()
            head, _, rules = text.partition("[[rules]]")
            blocks = rules.split("[[rules]]")
            reordered = "[[rules]]".join([blocks[0], *reversed(blocks[1:])])
            manifest_path.write_text("# reworded\n" + head + "[[rules]]" + reordered)
        runtime = build_runtime(settings, env={})
        seen = {}
        for principal in ("assistant", "analyst"):
            server = build_server(runtime, transport="memory", resolve_principal=_as(principal))
            async with Client(server) as client:
                seen[principal] = _fingerprints((await client.list_tools()).tools)
        listings.append(seen)
    assert listings[0] == listings[1]


async def test_a_widening_reload_is_recorded_with_both_digests(
    connect, manifest_path, settings: Settings
):
    original = manifest_path.read_text()
    async with connect("analyst") as client:
        _narrow_analyst(manifest_path)
        narrow = (await client.call_tool("whoami", {})).structured_content["manifest_digest"]
        assert (await client.call_tool("list_campaigns", {"connector": "hubspot"})).is_error
        manifest_path.write_text(original)  # widened back, approved (M-17)
        approve_edit(settings)
        wide = (await client.call_tool("whoami", {})).structured_content["manifest_digest"]
        assert not (await client.call_tool("list_campaigns", {"connector": "hubspot"})).is_error
    rows = [r for r in audit_rows(settings) if r["kind"] == "manifest_reload"]
    assert [r["outcome"] for r in rows] == ["ok", "ok"]
    assert f"{narrow[:12]} replaced by {wide[:12]}" in rows[1]["reason"], rows[1]["reason"]
    assert rows[1]["result_summary"] == f"{narrow[:12]} -> {wide[:12]}"
    # M-17: the row says what widened, readably, not only that the digest moved
    assert "changed rule analyst-read (tools)" in rows[1]["reason"], rows[1]["reason"]
    assert "widens: allow rule analyst-read: tools" in rows[1]["reason"], rows[1]["reason"]
    assert "changed rule analyst-read (tools)" in rows[0]["reason"], rows[0]["reason"]

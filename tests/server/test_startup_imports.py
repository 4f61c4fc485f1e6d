"""A serve start answers its first ``tools/list`` without importing what only later calls or the
admin CLI need (the planner and applier of changes, the crash recovery of an apply, the decision
audit ``audit verify`` reads, typer, rich, jinja2): a client waits for that answer at every
session start. The first change a call proposes still works, with those modules imported then."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mopsgate.server import tool_schemas
from mopsgate.server.app import build_runtime, build_server
from mopsgate.server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

# Not needed to answer tools/list; the first import of any of them on the start path (a module
# the serve path imports at its top, importing one of these at its own top) shows here.
NOT_AT_START = (
    "typer",
    "rich",
    "jinja2",
    "mopsgate.server.cli_app",
    "mopsgate.governance.applying",
    "mopsgate.governance.proposing",
    "mopsgate.governance.recovering",
    "mopsgate.governance.planning",
    "mopsgate.governance.decision_audit",
)

# A fresh interpreter imports what ``mopsgate serve`` imports, starts the server as it does,
# lists the tools, then proposes a change; it says which of NOT_AT_START were imported before
# the listing was answered and after the proposal.
START = """
import asyncio, json, sys
from pathlib import Path
import mopsgate.server.serve_argv  # the console script's serve path
from mcp import Client

from mopsgate.server.app import build_runtime, build_server
from mopsgate.server.settings import Settings

WATCHED = json.loads(sys.argv[3])

def loaded():
    return sorted(m for m in WATCHED if m in sys.modules)

async def main():
    settings = Settings(Path(sys.argv[1]), Path(sys.argv[2]), sandbox="memory")
    server = build_server(build_runtime(settings, env={}), transport="memory",
                          resolve_principal=lambda _: "assistant")
    async with Client(server) as client:
        listed = await client.list_tools()
        at_list = loaded()
        proposed = await client.call_tool("propose_update_person", {
            "refs": ["hubspot:contact:1001"], "fields": {"jobtitle": "Head of Lists"},
            "reason": "Title changed on the call"})
    print(json.dumps({"tools": len(listed.tools), "at_list": at_list, "after": loaded(),
                      "proposed": proposed.structured_content, "error": proposed.is_error}))

asyncio.run(main())
"""


async def test_the_first_listing_needs_neither_the_change_machinery_nor_the_admin_cli(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    # Started as a new process would be (no schemas remembered in memory), this start writes
    # the tool listing into home, as any start does; the next one lists from it.
    monkeypatch.setattr(tool_schemas, "_MEMO", {})
    await _first_start(settings)
    paths = [str(settings.manifest_path), str(settings.home)]
    argv = [sys.executable, "-c", START, *paths, json.dumps(NOT_AT_START)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["tools"] > 30
    assert seen["at_list"] == []
    assert seen["error"] is False, seen["proposed"]
    assert seen["proposed"]["change_id"]
    assert "mopsgate.governance.proposing" in seen["after"]


async def _first_start(settings: Settings) -> None:
    from mcp import Client

    server = build_server(
        build_runtime(settings, env={}), transport="memory", resolve_principal=lambda _: "assistant"
    )
    async with Client(server) as client:
        await client.list_tools()

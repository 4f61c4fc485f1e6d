"""A server started on a state directory that remembers the tool listing answers tools/list
without importing the tool modules, lists exactly what the tools themselves would, and runs a
call with the real tool; a listing written from other source is not trusted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mopsgate.server import tool_index, tool_schemas
from mopsgate.server.app import build_runtime, build_server
from mopsgate.server.settings import Settings
from mopsgate.server.tool_index import IndexedSpec, startup_specs
from mopsgate.tools.spec import ToolSpec

ROOT = Path(__file__).resolve().parents[2]

# A fresh interpreter: list the tools and call one, saying which tool modules were imported
# before and after the call.
SECOND_START = """
import asyncio, json, sys
from pathlib import Path
from mcp import Client
from mopsgate.server.app import build_runtime, build_server
from mopsgate.server.settings import Settings

def tool_modules():
    tools = (m for m in sys.modules if m.startswith("mopsgate.tools."))
    return sorted(m for m in tools if m != "mopsgate.tools.spec")

async def main():
    settings = Settings(Path(sys.argv[1]), Path(sys.argv[2]), sandbox="memory")
    server = build_server(build_runtime(settings, env={}), transport="memory",
                          resolve_principal=lambda _: "assistant")
    async with Client(server) as client:
        listed = (await client.list_tools()).model_dump(mode="json")["tools"]
        before = tool_modules()
        called = await client.call_tool("whoami", {})
        after = tool_modules()
    print(json.dumps({"tools": listed, "before": before, "after": after,
                      "called": called.structured_content}))

asyncio.run(main())
"""


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts like a new process: no schemas remembered in memory."""
    monkeypatch.setattr(tool_schemas, "_MEMO", {})


async def _listing(settings: Settings) -> list[dict[str, object]]:
    from mcp import Client

    server = build_server(
        build_runtime(settings, env={}), transport="memory", resolve_principal=lambda _: "assistant"
    )
    async with Client(server) as client:
        return list((await client.list_tools()).model_dump(mode="json")["tools"])


async def test_second_start_lists_the_same_tools_without_importing_them(settings: Settings):
    first = await _listing(settings)  # imports the tools, remembers the listing in home
    proc = subprocess.run(
        [sys.executable, "-c", SECOND_START, str(settings.manifest_path), str(settings.home)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    second = json.loads(proc.stdout.strip().splitlines()[-1])
    assert second["tools"] == first
    assert second["before"] == []  # listed without a single tool module
    assert "mopsgate.tools.identity" in second["after"]  # the call ran the real tool
    assert second["called"]["principal"] == "assistant"


async def test_a_listing_from_other_source_is_not_trusted(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    await _listing(settings)
    assert all(isinstance(s, IndexedSpec) for s in startup_specs(settings.home).values())
    monkeypatch.setattr(tool_index, "source_stamp", lambda: "an edited checkout")
    assert all(isinstance(s, ToolSpec) for s in startup_specs(settings.home).values())


def test_a_missing_or_damaged_file_means_the_real_tools(tmp_path: Path):
    assert all(isinstance(s, ToolSpec) for s in startup_specs(tmp_path).values())
    (tmp_path / tool_index.FILE_NAME).write_text("{not json")
    assert all(isinstance(s, ToolSpec) for s in startup_specs(tmp_path).values())

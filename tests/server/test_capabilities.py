"""Honest capabilities: what a client is told is what is served, in every protocol era, and a
client's mistake gets a standard JSON-RPC error and one log line, never a traceback.

Found by connecting outside clients (MCP Inspector, the conformance suite, the SDK in both eras):
the 2025-11-25 handshake said ``tools.listChanged: false`` while the server sent
``notifications/tools/list_changed``; the 2026-07-28 discover claimed prompts and resources; an
unknown prompt answered with error code 0 and a traceback in the server log.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest
from mcp import MCPError
from mcp.types import ToolListChangedNotification

from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.server.test_reload import _narrow_analyst, watch_quickly
from tests.support.stdio_serve import mopsgate_env, raw_stdio

ERAS = [pytest.param("legacy", "2025-11-25", id="2025-11-25"), pytest.param("auto", "2026-07-28")]


@pytest.mark.parametrize(("mode", "version"), ERAS)
async def test_capabilities_name_only_tools_with_list_changed(connect, mode, version):
    async with connect("analyst", mode=mode) as client:
        assert client.protocol_version == version
        caps = client.server_capabilities.model_dump(by_alias=True, exclude_none=True)
        tools = await client.list_tools()
    assert caps["tools"] == {"listChanged": True}
    assert "prompts" not in caps and "resources" not in caps
    assert tools.tools  # what is advertised is served


async def test_legacy_client_told_list_changed_hears_it(connect, manifest_path, runtime: Runtime):
    """A client that trusts the handshake must be told it will hear reloads, and hear one."""
    watch_quickly(runtime)
    seen: list[Any] = []

    async def handler(message: Any) -> None:
        if isinstance(message, ToolListChangedNotification):
            seen.append(message)

    async with connect("analyst", mode="legacy", message_handler=handler) as client:
        assert client.server_capabilities.tools is not None
        assert client.server_capabilities.tools.list_changed is True
        await client.list_tools()
        _narrow_analyst(manifest_path)
        with anyio.fail_after(5):
            while not seen:
                await anyio.sleep(0.05)


@pytest.mark.parametrize(("mode", "version"), ERAS)
async def test_unknown_prompt_is_method_not_found_without_traceback(
    connect, settings, caplog, mode, version
):
    caplog.set_level(logging.INFO)
    async with connect("analyst", mode=mode, raise_exceptions=False) as client:
        for attempt in (
            lambda: client.get_prompt("export_everyone", {}),
            client.list_prompts,
            client.list_resources,
            lambda: client.read_resource("file:///etc/passwd"),
        ):
            with pytest.raises(MCPError) as err:
                await attempt()
            assert err.value.code == -32601
    protocol = [r for r in caplog.records if r.name == "mopsgate.protocol"]
    assert len(protocol) == 4
    assert all("-32601" in r.getMessage() and "\n" not in r.getMessage() for r in protocol)
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not [r for r in audit_rows(settings) if r["kind"] == "tool_call"]


async def test_malformed_requests_get_json_rpc_codes_and_audit_rows(settings: Settings):
    env = mopsgate_env(settings, MOPSGATE_PRINCIPAL="assistant")
    log = settings.home.parent / "stderr.log"
    async with raw_stdio(env, cwd=settings.home.parent, log=log) as raw:
        init = await raw.answer(
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "fuzzer", "version": "1"},
            },
        )
        await raw.send("notifications/initialized", notify=True)
        answers = {
            "prompt": await raw.answer("prompts/get", {"name": "nope"}),
            "name": await raw.answer("tools/call", {"name": 123, "arguments": {}}),
            "arguments": await raw.answer("tools/call", {"name": "whoami", "arguments": [1]}),
            "no params": await raw.answer("tools/call"),
            "unknown method": await raw.answer("mopsgate/export_all", {}),
        }
    stderr = log.read_text()
    assert init["result"]["capabilities"] == {"tools": {"listChanged": True}}
    codes = {what: answer["error"]["code"] for what, answer in answers.items()}
    assert codes == {
        "prompt": -32601,
        "name": -32602,
        "arguments": -32602,
        "no params": -32602,
        "unknown method": -32601,
    }
    assert "Traceback" not in stderr and " ERROR " not in stderr
    assert stderr.count("JSON-RPC error") == 5
    calls = [r for r in audit_rows(settings) if r["kind"] == "tool_call"]
    assert [(r["tool"], r["outcome"], r["error_code"]) for r in calls] == [
        ("", "error", "invalid_input"),
        ("whoami", "error", "invalid_input"),
        ("", "error", "invalid_input"),
    ]

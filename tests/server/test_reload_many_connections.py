"""One runtime serving many connections, over time and at once (an embedding app, the tests):
a manifest reload is audited once, and every client connected then hears of it once. A
connection that has closed leaves nothing behind that still answers reloads."""

from __future__ import annotations

from typing import Any

import anyio
from mcp.types import ToolListChangedNotification

from mopsgate.server.app import Runtime
from tests.conftest import audit_rows
from tests.server.test_reload import _narrow_analyst


def _counting(seen: list[str], name: str) -> Any:
    async def handler(message: Any) -> None:
        if isinstance(message, ToolListChangedNotification):
            seen.append(name)

    return handler


async def test_a_reload_is_audited_once_and_heard_once_by_each_client(
    connect, runtime: Runtime, manifest_path, settings
):
    for _ in range(3):  # connections that came and went
        async with connect("analyst") as gone:
            await gone.call_tool("whoami", {})
    seen: list[str] = []
    async with (
        connect("analyst", mode="legacy", message_handler=_counting(seen, "a")) as a,
        connect("analyst", mode="legacy", message_handler=_counting(seen, "b")) as b,
    ):
        await a.list_tools()
        await b.list_tools()
        _narrow_analyst(manifest_path)
        await a.list_tools()  # the reload happens here
        with anyio.fail_after(5):
            while len(seen) < 2:
                await anyio.sleep(0.05)
        await b.call_tool("whoami", {})  # time for a duplicate to arrive, were one sent
        await anyio.sleep(0.2)
    assert sorted(seen) == ["a", "b"]
    reloads = [r for r in audit_rows(settings) if r["kind"] == "manifest_reload"]
    assert [(r["outcome"], r["transport"]) for r in reloads] == [("ok", "memory")]
    # Every connection has closed: nothing of theirs is left listening for the next reload.
    assert len(runtime.holder.listeners) <= 1

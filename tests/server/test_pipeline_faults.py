"""Every call leaves its audit row, however it ends (PRODUCT.md: "Audit: always, including
denials and errors"): cancelled by the client or by a dropped connection while the vendor is
still answering, an output that cannot be serialised, a fault while taking the manifest in
force or while naming the call's target. Each fault is injected through our own seams (a tool
spec's handler or input model, the exceptions overlay's loader), never inside mcp or httpx."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from mopsgate.server.waiver_overlay import WaiverOverlay
from mopsgate.storage import audit_reader
from mopsgate.tools.identity import WhoAmI
from mopsgate.tools.spec import Target, ToolContext, ToolInput
from tests.conftest import audit_rows, text_of
from tests.support.tokens import issue_token

PERSON = "hubspot:contact:1001"


def swap(runtime: Runtime, name: str, **changes: Any) -> Any:
    """Replace a field of a tool's spec (the pipeline reads the runtime's specs); the old spec."""
    old = runtime.specs[name]
    runtime.specs[name] = dataclasses.replace(old, **changes)  # type: ignore[type-var]
    return old


def hang_after_the_vendor_answers(runtime: Runtime) -> anyio.Event:
    """get_person reads the person from the vendor, then never returns: a call in flight."""
    reached = anyio.Event()
    original = runtime.specs["get_person"]

    async def handler(ctx: ToolContext, args: ToolInput) -> Any:
        await original.run(ctx, args)
        reached.set()
        await anyio.sleep_forever()

    swap(runtime, "get_person", handler=handler)
    return reached


async def verified(settings: Settings) -> bool:
    return (await audit_reader(settings.storage()).verify()).ok


async def wait_for_rows(settings: Settings, n: int) -> list[dict[str, Any]]:
    """The server writes a cancelled call's row after the client has stopped waiting."""
    with anyio.fail_after(20):
        while len(rows := [r for r in audit_rows(settings) if r["kind"] == "tool_call"]) < n:
            await anyio.sleep(0.02)
    return rows


def assert_cancelled_row(row: dict[str, Any]) -> None:
    assert (row["tool"], row["decision"], row["outcome"]) == ("get_person", "allowed", "cancelled")
    assert row["error_code"] == "cancelled" and row["connector"] == "hubspot"
    assert row["upstream_calls"] >= 1  # what it did before it was cancelled is on record
    assert "cancelled before it finished" in row["result_summary"]


async def test_a_call_the_client_cancels_is_audited(connect, runtime: Runtime, settings):
    reached = hang_after_the_vendor_answers(runtime)
    async with connect("assistant") as client:
        with anyio.CancelScope() as scope:

            async def cancel_once_in_flight() -> None:
                await reached.wait()
                scope.cancel()

            async with anyio.create_task_group() as tg:
                tg.start_soon(cancel_once_in_flight)
                await client.call_tool("get_person", {"ref": PERSON})
        assert scope.cancelled_caught
        rows = await wait_for_rows(settings, 1)
        after = await client.call_tool("whoami", {})  # the session goes on
    assert_cancelled_row(rows[0])
    assert not after.is_error
    assert [r["tool"] for r in audit_rows(settings)] == ["get_person", "whoami"]
    assert await verified(settings)


async def test_a_call_whose_session_ends_is_audited(http_base: str, runtime: Runtime, settings):
    """Over HTTP the client goes away (its session ends) with a call in flight."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    reached = threading.Event()  # the server runs on a thread of its own
    original = runtime.specs["get_person"]

    async def handler(ctx: ToolContext, args: ToolInput) -> Any:
        await original.run(ctx, args)
        reached.set()
        await anyio.sleep_forever()

    swap(runtime, "get_person", handler=handler)
    headers = {"Authorization": f"Bearer {issue_token(settings, 'assistant')}"}
    async with (
        anyio.create_task_group() as tg,
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(f"{http_base}/mcp", http_client=http)) as client,
    ):

        async def abandoned() -> None:
            with pytest.raises(MCPError, match="Connection closed"):
                await client.call_tool("get_person", {"ref": PERSON})

        tg.start_soon(abandoned)
        await anyio.to_thread.run_sync(reached.wait, 20)
    rows = await wait_for_rows(settings, 1)
    assert_cancelled_row(rows[0])
    assert rows[0]["transport"] == "http"
    assert await verified(settings)


async def test_an_output_that_cannot_be_serialised_is_an_audited_error(
    connect, runtime: Runtime, settings
):
    async def handler(ctx: ToolContext, args: ToolInput) -> WhoAmI:
        unserialisable: Any = object()  # what no JSON can hold, where a string belongs
        return WhoAmI.model_construct(
            principal=unserialisable, use_cases=[], connectors={}, manifest_digest=""
        )

    swap(runtime, "whoami", handler=handler)
    async with connect("assistant") as client:
        result = await client.call_tool("whoami", {})
    assert result.is_error and result.structured_content is None
    assert text_of(result).startswith("[error] whoami failed with an internal error")
    [row] = audit_rows(settings)
    assert (row["decision"], row["outcome"], row["error_code"]) == ("allowed", "error", "error")
    assert row["records"] in (None, "", "[]")
    assert await verified(settings)


def failing_overlay(settings: Settings) -> WaiverOverlay:
    async def load() -> list[Any]:
        raise OSError("the exceptions could not be read")

    return WaiverOverlay(settings.home, load)


async def test_a_fault_taking_the_manifest_in_force_is_an_audited_error(
    connect, runtime: Runtime, settings
):
    async with connect("assistant") as client:
        runtime.holder.overlay = failing_overlay(settings)
        result = await client.call_tool("whoami", {})
    assert result.is_error
    assert text_of(result).startswith("[error] whoami failed with an internal error (OSError)")
    [row] = audit_rows(settings)
    assert (row["tool"], row["decision"], row["outcome"]) == ("whoami", "error", "error")
    assert row["manifest_digest"] == runtime.holder.digest  # the version in force is named
    assert await verified(settings)


async def test_a_fault_naming_the_target_is_an_audited_error(connect, runtime: Runtime, settings):
    model = runtime.specs["get_person"].input_model

    class Broken(model):  # type: ignore[misc, valid-type]
        def target(self) -> Target:
            raise LookupError("no such connector table")

    swap(runtime, "get_person", input_model=Broken)
    async with connect("assistant") as client:
        result = await client.call_tool("get_person", {"ref": PERSON})
    assert result.is_error
    assert text_of(result).startswith("[error] get_person failed with an internal error")
    [row] = audit_rows(settings)
    assert (row["decision"], row["outcome"], row["upstream_calls"]) == ("error", "error", 0)
    assert await verified(settings)

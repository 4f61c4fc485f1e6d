"""The sandbox remembers, across server processes (issue #11): a change proposed and applied
through one server is what a second one reads, and the second one's revert is a real inverse
that the first one then sees undone. The first is a ``mopsgate serve`` stdio subprocess, the
second a server in the test process; both run at the same time on one state directory, each
with its own emulators over ``sandbox.db``."""

from __future__ import annotations

import dataclasses
from typing import Any

from mcp import Client, StdioServerParameters
from typer.testing import CliRunner

from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.server.app import build_runtime, build_server
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.server.e2e_support import approve
from tests.support.stdio_serve import mopsgate_env, stdio_params

REASON = "The user asked for this in the weekly MOPs sync"
NEW = "Head of Persistence"


def _server(settings: Settings) -> StdioServerParameters:
    return stdio_params(mopsgate_env(settings, MOPSGATE_PRINCIPAL="assistant"))


async def _tool(client: Client, name: str, **args: Any) -> dict[str, Any]:
    result = await client.call_tool(name, args)
    assert not result.is_error, result.content
    out: dict[str, Any] = result.structured_content or {}
    return out


async def _approve_and_apply(settings: Settings, client: Client, plan: dict[str, Any]) -> None:
    approve(settings, plan["change_id"])
    applied = await _tool(
        client,
        "apply_change",
        change_id=plan["change_id"],
        confirmation_token=plan["confirmation_token"],
    )
    assert applied["status"] == "applied"


async def _title(client: Client, ref: str) -> Any:
    return (await _tool(client, "get_person", ref=ref))["fields"]["jobtitle"]


async def test_apply_in_one_server_then_read_and_revert_in_another(settings: Settings):
    ref = hs.person_ref(7)
    reset = ["sandbox", "reset", "--people", "60", "--home", str(settings.home)]
    assert CliRunner().invoke(app, reset).exit_code == 0  # a small sandbox: quick to seed
    here = build_runtime(dataclasses.replace(settings, sandbox="persistent"), env={})
    in_process = build_server(here, transport="memory", resolve_principal=lambda _: "assistant")
    async with Client(_server(settings)) as first, Client(in_process) as second:
        before = await _title(second, ref)
        plan = await _tool(
            first, "propose_update_person", refs=[ref], fields={"jobtitle": NEW}, reason=REASON
        )
        await _approve_and_apply(settings, first, plan)

        assert await _title(second, ref) == NEW  # another process, the same sandbox
        revert = await _tool(second, "propose_revert", change_id=plan["change_id"], reason=REASON)
        assert [r["changes"] for r in revert["records"]] == [
            [{"field": "jobtitle", "before": NEW, "after": before}]
        ]  # a real inverse, built from what the sandbox holds, not a no-op
        await _approve_and_apply(settings, second, revert)
        assert await _title(first, ref) == before
    assert (settings.home / "sandbox.db").exists() and (settings.home / "mopsgate.db").exists()

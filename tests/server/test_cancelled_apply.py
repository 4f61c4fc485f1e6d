"""An apply cancelled mid-write (the client gave up, or its connection dropped) is settled at
once by the process that was applying it: what has no recorded result is re-read from the
vendor, and the change ends ``applied`` or ``failed`` with a recovery row that says why. It
used to sit ``applying`` in the queue, blocking its records' reviewers, until some restart's
recovery settled it. (PostgreSQL: tests/server/test_postgres_serving.py.)"""

from __future__ import annotations

from typing import Any

import anyio

from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows, text_of
from tests.server.e2e_support import (
    VENDORS,
    approve,
    cancel_apply_once_written,
    subscribed_outside_list,
)


async def test_an_apply_cancelled_mid_write_is_settled_at_once(
    connect, runtime: Runtime, settings: Settings
):
    v = VENDORS["hubspot"]
    emu = runtime.connectors.emulator(v.name)
    refs = [v.ref(i) for i in subscribed_outside_list(v.list_idx, 2, start=40)]
    async with connect("assistant") as client:
        proposed = await client.call_tool(
            "propose_update_person",
            {"refs": refs, "fields": {"jobtitle": "Cancelled"}, "reason": "Fix titles now"},
        )
        assert not proposed.is_error, text_of(proposed)
        plan: dict[str, Any] = proposed.structured_content or {}
        approve(settings, plan["change_id"])
        args = {"change_id": plan["change_id"], "confirmation_token": plan["confirmation_token"]}
        await cancel_apply_once_written(client, emu, args)
        with anyio.fail_after(20):  # settled after the client stopped waiting
            while not [r for r in audit_rows(settings) if r["kind"] == "recovery"]:
                await anyio.sleep(0.02)
        shown = await client.call_tool("get_change", {"change_id": plan["change_id"]})
        again = await client.call_tool("apply_change", args)
    change = shown.structured_content or {}
    assert change["status"] == "applied", change  # the vendor holds the write: on the account
    assert "interrupted mid-apply" in str(change), change
    [recovery] = [r for r in audit_rows(settings) if r["kind"] == "recovery"]
    assert recovery["change_id"] == plan["change_id"] and recovery["outcome"] == "ok"
    assert "apply was cancelled mid-write" in recovery["reason"]
    assert "2 written, 0 not written" in recovery["result_summary"]
    [cancelled] = [
        r for r in audit_rows(settings) if r["tool"] == "apply_change" and r["kind"] == "tool_call"
    ][:1]
    assert cancelled["outcome"] == "cancelled"
    assert again.is_error and "already been used" in text_of(again)  # nothing is written twice
    assert len(emu.core.write_requests) == 1

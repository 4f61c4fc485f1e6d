"""Shared helpers of the change refusal tests (no tests here): seed people by consent, a terse
way to call tools, and the checks every refusal ends with — nothing written upstream, and the
refusal is in the audit log."""

from __future__ import annotations

import sqlite3
from typing import Any

from mcp import Client

from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.seed import seed_data
from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows, text_of
from tests.server.e2e_support import VENDORS, Vendor, approve, run_cli

MK = VENDORS["marketo"]
WELCOME_TRIGGER = mk.smart_campaign_ref(2)  # triggerable; audience list 5
NEWSLETTER_SEND = mk.smart_campaign_ref(0)  # schedulable; audience list 0 (has opted-out people)
NEWSLETTER_LIST = mk.list_ref(0)  # the audience of an active email send
REASON = "The user asked for this in the weekly MOPs sync"
OPT_OUT_FIELD = {
    "marketo": "unsubscribed",
    "hubspot": "hs_email_optout",
    "salesforce": "HasOptedOutOfEmail",
}


def people(status: str, n: int, *, start: int = 0, not_in: int | None = None) -> list[int]:
    """Seed indexes of ``n`` non-duplicate people with this consent status ("any": all)."""
    data = seed_data()
    members = set(data.lists[not_in].members) if not_in is not None else set()
    found = [
        p.idx
        for p in data.people[start:]
        if status in ("any", p.consent_status) and p.duplicate_of is None and p.idx not in members
    ]
    assert len(found) >= n
    return found[:n]


async def call(client: Client, tool: str, **args: Any) -> Any:
    return await client.call_tool(tool, args)


async def ok(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    result = await call(client, tool, **args)
    assert not result.is_error, text_of(result)
    out: dict[str, Any] = result.structured_content
    return out


async def refused(client: Client, tool: str, **args: Any) -> str:
    result = await call(client, tool, **args)
    assert result.is_error, result.structured_content
    return text_of(result)


async def propose_titles(
    client: Client, v: Vendor, idxs: list[int], title: str = "Head of Refusals"
) -> dict[str, Any]:
    refs = [v.ref(i) for i in idxs]
    return await ok(
        client, "propose_update_person", refs=refs, fields={v.title_field: title}, reason=REASON
    )


async def apply(client: Client, plan: dict[str, Any], token: str | None = None) -> Any:
    return await call(
        client,
        "apply_change",
        change_id=plan["change_id"],
        confirmation_token=token if token is not None else plan["confirmation_token"],
    )


async def status(client: Client, change_id: str) -> str:
    return str((await ok(client, "get_change", change_id=change_id))["status"])


async def approved_send(client: Client, settings: Settings, idxs: list[int]) -> dict[str, Any]:
    """A Marketo welcome-trigger send for these people, approved by mops and compliance."""
    plan = await ok(
        client,
        "propose_trigger_campaign",
        campaign_ref=WELCOME_TRIGGER,
        person_refs=[MK.ref(i) for i in idxs],
        reason=REASON,
    )
    assert plan["risk_class"] == "send" and plan["approvals"]["required"] == 2
    approve(settings, plan["change_id"], "mops-lead")
    assert await status(client, plan["change_id"]) == "proposed"  # compliance still needed
    approve(settings, plan["change_id"], "compliance")
    return plan


def cases_emulator(runtime: Runtime, vendor: str) -> Any:
    """The vendor's emulator for a test whose cases run back to back on one server: HubSpot's
    search window (5 a second) out of the way, so one case's lookups do not use up the window
    the next case's need (separate servers never shared one). Raised before the connector is
    built, so its client is paced by the same window."""
    emu = runtime.connectors.emulator(vendor)
    if vendor == "hubspot":
        emu.search_window.max_calls = 1_000
    return emu


def last_refusal(settings: Settings, tool: str = "apply_change", since: int = 0) -> dict[str, Any]:
    """The newest audit row of a refused or failed call of ``tool`` (among the rows after the
    first ``since``: one case's own, where cases share a server)."""
    rows = [
        r
        for r in audit_rows(settings)[since:]
        if r["tool"] == tool and r["outcome"] in ("error", "denied", "refused")
    ]
    assert rows, f"no refusal of {tool} in the audit log"
    return rows[-1]


def cli(settings: Settings, *args: str) -> Any:
    """``mopsgate ARGS --manifest … --home …`` (freeze, unfreeze)."""
    return run_cli([*args, "--manifest", str(settings.manifest_path), "--home", str(settings.home)])


def sql(settings: Settings, statement: str, *params: Any) -> None:
    conn = sqlite3.connect(settings.db_path)
    try:
        conn.execute(statement, params)
        conn.commit()
    finally:
        conn.close()


async def approved_titles(
    client: Client, settings: Settings, v: Vendor, idxs: list[int], title: str
) -> dict[str, Any]:
    """A title change for these people, proposed and approved by mops-lead."""
    plan = await propose_titles(client, v, idxs, title)
    approve(settings, plan["change_id"])
    return plan

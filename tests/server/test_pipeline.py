"""The governed pipeline as a client sees it: identity, hidden tools, strict input, audit."""

from __future__ import annotations

import sqlite3

from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows, text_of

WRITE_TOOLS = {
    "propose_update_person",
    "propose_add_to_list",
    "apply_change",
    "propose_opt_out",
    "propose_trigger_campaign",
}


async def test_assistant_sees_its_tools_and_whoami_is_audited(connect, settings: Settings):
    async with connect("assistant") as client:
        names = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("whoami", {})
    assert names >= WRITE_TOOLS
    assert "propose_delete_person" not in names  # explicitly denied: hidden, not just refused
    assert not result.is_error
    assert result.structured_content["principal"] == "assistant"
    assert result.structured_content["connectors"]["hubspot"] == "sandbox"
    rows = audit_rows(settings)
    assert rows[-1]["tool"] == "whoami"
    assert rows[-1]["decision"] == "allowed" and rows[-1]["outcome"] == "ok"
    assert rows[-1]["transport"] == "memory"


async def test_analyst_does_not_see_write_tools(connect):
    async with connect("analyst") as client:
        names = {t.name for t in (await client.list_tools()).tools}
    assert names.isdisjoint(WRITE_TOOLS)
    assert {"search_people", "whoami", "my_permissions"} <= names


async def test_calling_a_hidden_tool_is_refused_with_reason_and_audited(connect, settings):
    async with connect("analyst") as client:
        result = await client.call_tool(
            "propose_opt_out",
            {
                "connector": "hubspot",
                "person_refs": ["hubspot:contact:1001"],
                "reason": "the user asked to opt this person out",
            },
        )
    assert result.is_error
    text = result.content[0].text
    assert text.startswith("[not_permitted]")
    assert "not permitted for analyst" in text and "my_permissions" in text
    row = audit_rows(settings)[-1]
    assert (row["tool"], row["decision"], row["outcome"]) == ("propose_opt_out", "denied", "denied")
    assert row["rule_id"] == "default-deny"


async def test_deny_rule_wins_and_is_named(connect, settings):
    async with connect("assistant") as client:
        result = await client.call_tool(
            "propose_delete_person",
            {
                "connector": "hubspot",
                "person_refs": ["hubspot:contact:1001"],
                "reason": "please delete this contact",
            },
        )
    assert result.is_error and "assistant-no-delete" in result.content[0].text
    assert audit_rows(settings)[-1]["rule_id"] == "assistant-no-delete"


async def test_unknown_principal_is_refused_and_audited(connect, settings):
    async with connect("mallory") as client:
        names = [t.name for t in (await client.list_tools()).tools]
        result = await client.call_tool("whoami", {})
    assert names == []
    assert result.is_error and result.content[0].text.startswith("[unknown_principal]")
    row = audit_rows(settings)[-1]
    assert row["principal"] == "mallory" and row["rule_id"] == "unknown-principal"


async def test_unknown_fields_are_rejected_and_audited(connect, settings):
    async with connect("assistant") as client:
        result = await client.call_tool(
            "get_person", {"ref": "hubspot:contact:1001", "include_everything": True}
        )
    assert result.is_error
    assert "include_everything: unknown field" in result.content[0].text
    row = audit_rows(settings)[-1]
    assert row["decision"] == "error" and row["error_code"] == "invalid_input"


async def test_unknown_tool_lists_what_exists(connect, settings):
    async with connect("analyst") as client:
        result = await client.call_tool("export_all_contacts", {})
    assert result.is_error and "Tools available to you:" in result.content[0].text
    assert audit_rows(settings)[-1]["tool"] == "export_all_contacts"


async def test_pii_in_arguments_never_reaches_the_audit_log(connect, settings):
    async with connect("assistant") as client:
        await client.call_tool(
            "search_people", {"connector": "hubspot", "email": "jane.canary@example.org"}
        )
    raw = b"".join(p.read_bytes() for p in settings.home.glob("mopsgate.db*"))
    assert b"jane.canary@example.org" not in raw


async def test_legacy_clients_get_the_same_governance(connect, settings):
    async with connect("analyst", mode="legacy") as client:
        names = {t.name for t in (await client.list_tools()).tools}
        refused = await client.call_tool(
            "apply_change", {"change_id": "chg_0123456789ab", "confirmation_token": "x" * 20}
        )
    assert "apply_change" not in names and refused.is_error


async def test_audit_write_failure_refuses_the_call(connect, runtime: Runtime, settings):
    """Another process holds the write lock past the busy timeout: the call must fail closed
    (no result handed out without its audit row), and work again once the lock is gone."""
    runtime.audit_busy_ms = 100
    async with connect("assistant") as client:
        assert not (await client.call_tool("whoami", {})).is_error
        blocker = sqlite3.connect(settings.db_path, timeout=0)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            refused = await client.call_tool("whoami", {})
        finally:
            blocker.rollback()
            blocker.close()
        again = await client.call_tool("whoami", {})
    assert refused.is_error
    assert refused.content[0].text.startswith("[audit_unavailable]")
    assert refused.structured_content is None
    assert not again.is_error
    assert [r["tool"] for r in audit_rows(settings)] == ["whoami", "whoami"]


async def test_calls_per_minute_limit_refuses_and_audits(connect, manifest_path, settings):
    text = manifest_path.read_text().replace("calls_per_minute = 120", "calls_per_minute = 3")
    manifest_path.write_text(text)
    async with connect("assistant") as client:
        results = [await client.call_tool("whoami", {}) for _ in range(4)]
    assert [r.is_error for r in results] == [False, False, False, True]
    assert text_of(results[-1]).startswith("[rate_limited]")
    row = audit_rows(settings)[-1]
    assert (row["decision"], row["rule_id"], row["error_code"]) == (
        "denied",
        "rate-limit",
        "rate_limited",
    )


async def test_write_grant_is_scoped_to_its_connector(connect, manifest_path, settings):
    """Dropping the HubSpot update rule leaves Marketo updates allowed, HubSpot ones refused at
    the decision (the connector comes from the record references)."""
    text = manifest_path.read_text()
    start = text.index('[[rules]]\nid = "assistant-update-hubspot"')
    end = text.index("[[rules]]", start + 10)
    manifest_path.write_text(text[:start] + text[end:])
    async with connect("assistant") as client:
        refused = await client.call_tool(
            "propose_update_person",
            {
                "refs": ["hubspot:contact:1001"],
                "fields": {"jobtitle": "CMO"},
                "reason": "fix the title as asked",
            },
        )
    assert refused.is_error and "[not_permitted]" in text_of(refused)
    row = audit_rows(settings)[-1]
    assert (row["connector"], row["decision"]) == ("hubspot", "denied")


async def test_concurrent_connections_share_one_audit_chain(connect, settings):
    """Sixteen clients starting together must not open two audit writers (a forked chain)."""
    import asyncio

    from mopsgate.storage import audit_reader

    async def one(i: int) -> bool:
        async with connect("analyst") as client:
            result = await client.call_tool("whoami", {})
            return not result.is_error

    assert all(await asyncio.gather(*(one(i) for i in range(16))))
    assert (await audit_reader(settings.storage()).verify()).ok
    assert len(audit_rows(settings)) == 16

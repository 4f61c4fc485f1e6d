"""propose → human approval (CLI) → apply → vendor state → audit → revert, on every connector."""

from __future__ import annotations

from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows, text_of
from tests.server.e2e_support import VENDORS, approve, subscribed_outside_list

NEW_TITLE = "Chief Ops Wizard"


async def test_field_update_round_trip(connect, runtime: Runtime, settings: Settings):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor_name in sorted(VENDORS):
            seen = len(audit_rows(settings))
            v = VENDORS[vendor_name]
            emu = runtime.connectors.emulator(v.name)
            people = subscribed_outside_list(v.list_idx, 2)
            refs = [v.ref(i) for i in people]
            before = {r: emu.person_fields(v.native_of(r))[v.title_field] for r in refs}
            proposed = await client.call_tool(
                "propose_update_person",
                {
                    "refs": refs,
                    "fields": {v.title_field: NEW_TITLE},
                    "reason": "The user asked to fix job titles after the re-org",
                },
            )
            assert not proposed.is_error, text_of(proposed)
            plan = proposed.structured_content
            assert plan["status"] == "proposed" and plan["risk_class"] == "update_fields"
            assert plan["approvals"]["required"] == 1
            diff = {r["ref"]: r["changes"] for r in plan["records"]}
            assert diff == {
                r: [{"field": v.title_field, "before": before[r], "after": NEW_TITLE}] for r in refs
            }
            assert emu.core.write_requests == []  # proposing wrote nothing upstream
            early = await client.call_tool(
                "apply_change",
                {"change_id": plan["change_id"], "confirmation_token": plan["confirmation_token"]},
            )
            assert early.is_error and "waiting for approval" in text_of(early)

            approve(settings, plan["change_id"])
            applied = await client.call_tool(
                "apply_change",
                {"change_id": plan["change_id"], "confirmation_token": plan["confirmation_token"]},
            )
            assert not applied.is_error, text_of(applied)
            assert applied.structured_content["status"] == "applied"
            assert {emu.person_fields(v.native_of(r))[v.title_field] for r in refs} == {NEW_TITLE}

            revert = await client.call_tool(
                "propose_revert",
                {"change_id": plan["change_id"], "reason": "The user changed their mind"},
            )
            assert not revert.is_error, text_of(revert)
            rplan = revert.structured_content
            approve(settings, rplan["change_id"])
            undone = await client.call_tool(
                "apply_change",
                {
                    "change_id": rplan["change_id"],
                    "confirmation_token": rplan["confirmation_token"],
                },
            )
            assert not undone.is_error, text_of(undone)
            assert {r: emu.person_fields(v.native_of(r))[v.title_field] for r in refs} == before
            chain = [
                (r["kind"], r["tool"], r["outcome"])
                for r in audit_rows(settings)[seen:]
                if r["change_id"] == plan["change_id"]
            ]
            assert chain[0] == ("tool_call", "propose_update_person", "ok")
            assert chain == [
                ("tool_call", "propose_update_person", "ok"),
                ("change", "apply_change", "ok"),  # intent row written before anything else
                ("tool_call", "apply_change", "error"),  # refused: not yet approved
                ("review", "review approve", "ok"),
                ("change", "apply_change", "ok"),
                ("tool_call", "apply_change", "ok"),
            ]
            revert_rows = [
                r for r in audit_rows(settings)[seen:] if r["change_id"] == rplan["change_id"]
            ]
            assert revert_rows[0]["tool"] == "propose_revert"


async def test_add_to_list_round_trip(connect, runtime: Runtime, settings: Settings):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor_name in sorted(VENDORS):
            v = VENDORS[vendor_name]
            emu = runtime.connectors.emulator(v.name)
            refs = [v.ref(i) for i in subscribed_outside_list(v.list_idx, 3, start=100)]
            members_before = set(emu.list_member_ids(v.list_native))
            proposed = await client.call_tool(
                "propose_add_to_list",
                {
                    "list_ref": v.list_ref,
                    "person_refs": refs,
                    "reason": "Add the booth visitors to the follow-up list",
                },
            )
            assert not proposed.is_error, text_of(proposed)
            plan = proposed.structured_content
            assert plan["risk_class"] == "audience"
            assert [r["action"] for r in plan["records"]] == ["add"] * 3
            approve(settings, plan["change_id"])
            applied = await client.call_tool(
                "apply_change",
                {"change_id": plan["change_id"], "confirmation_token": plan["confirmation_token"]},
            )
            assert applied.structured_content["status"] == "applied", text_of(applied)
            added = set(emu.list_member_ids(v.list_native)) - members_before
            assert {str(x) for x in added} == {str(v.native_of(r)) for r in refs}
            revert = await client.call_tool(
                "propose_revert",
                {"change_id": plan["change_id"], "reason": "Wrong list, undo please"},
            )
            rplan = revert.structured_content
            assert [r["action"] for r in rplan["records"]] == ["remove"] * 3
            approve(settings, rplan["change_id"])
            await client.call_tool(
                "apply_change",
                {
                    "change_id": rplan["change_id"],
                    "confirmation_token": rplan["confirmation_token"],
                },
            )
            assert set(emu.list_member_ids(v.list_native)) == members_before

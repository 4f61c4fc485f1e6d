"""Drift between approval and apply (catalogue T-13, T-14).

A target deleted upstream after approval makes the change stale before any write. Staleness is
judged on what the plan changes (and consent), as the README says: someone editing another
field of the record does not stop the approved change, and that field is left as they set it.
"""

from __future__ import annotations

from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows, text_of
from tests.server.e2e_support import VENDORS
from tests.server.test_changes_kit import (
    apply,
    approved_titles,
    last_refusal,
    people,
    status,
)

COMPANY = {"marketo": "company", "hubspot": "company", "salesforce": "Company"}


async def test_a_target_deleted_after_approval_is_stale_and_nothing_is_written(
    connect, runtime: Runtime, settings: Settings
):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            seen = len(audit_rows(settings))
            v = VENDORS[vendor]
            emu = runtime.connectors.emulator(vendor)
            idxs = people("subscribed", 2, start=120)
            plan = await approved_titles(client, settings, v, idxs, "Never Written")
            await runtime.connectors.get(vendor).delete_people([v.ref(idxs[0])])  # someone else
            emu.core.reset_log()
            result = await apply(client, plan)
            text = text_of(result)
            assert result.is_error and f"{v.ref(idxs[0])} no longer exists" in text, text
            assert await status(client, plan["change_id"]) == "stale"
            assert emu.core.write_requests == []
            assert emu.person_fields(v.native(idxs[1]))[v.title_field] != "Never Written"
            assert last_refusal(settings, since=seen)["error_code"] == "stale"


async def test_an_edit_of_a_field_the_plan_does_not_touch_does_not_stop_it(
    connect, runtime: Runtime, settings: Settings
):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            v = VENDORS[vendor]
            emu = runtime.connectors.emulator(vendor)
            idx = people("subscribed", 1, start=140)[0]
            plan = await approved_titles(client, settings, v, [idx], "Approved Title")
            emu.set_person_field(v.native(idx), COMPANY[vendor], "Edited Meanwhile Inc")
            emu.core.reset_log()
            result = await apply(client, plan)
            assert not result.is_error, text_of(result)
            assert result.structured_content["status"] == "applied"
            fields = emu.person_fields(v.native(idx))
            assert fields[v.title_field] == "Approved Title"
            assert fields[COMPANY[vendor]] == "Edited Meanwhile Inc"
            assert len(emu.core.write_requests) == 1

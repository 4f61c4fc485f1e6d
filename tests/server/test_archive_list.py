"""propose_archive_list (issue #17, item 6): a legacy list taken out of use on every connector
through review and apply; a list an active email campaign sends to is refused; a list that
changed since the plan is stale; the plan says it is reverted by hand only."""

from __future__ import annotations

from mopsgate.crm.errors import NotFoundError
from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.salesforce import ids as sf
from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.server.e2e_support import approve
from tests.server.test_changes_kit import REASON, apply, ok, refused

LEGACY, NEWSLETTER = 2, 0
LISTS = {"marketo": mk.list_ref, "hubspot": hs.list_ref, "salesforce": sf.list_ref}


async def archived(runtime: Runtime, vendor: str) -> bool:
    if vendor == "salesforce":
        rec = runtime.connectors.emulator(vendor).records("Campaign")[sf.list_id(LEGACY)]
        return rec["IsActive"] is False
    try:
        await runtime.connectors.get(vendor).get_list(LISTS[vendor](LEGACY))
    except NotFoundError:
        return True
    return False


async def test_a_legacy_list_is_archived_through_review(
    connect, runtime: Runtime, settings: Settings
):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor in sorted(LISTS):
            ref = LISTS[vendor](LEGACY)
            plan = await ok(client, "propose_archive_list", list_ref=ref, reason=REASON)
            assert plan["risk_class"] == "audience" and plan["operation"] == "archive_list"
            assert plan["revert"].startswith("not possible: mopsgate does not restore lists")
            assert not await archived(runtime, vendor)
            approve(settings, plan["change_id"])
            done = await apply(client, plan)
            assert not done.is_error, done.content[0].text
            assert done.structured_content["status"] == "applied"
            assert await archived(runtime, vendor)


async def test_a_list_an_active_campaign_sends_to_is_refused(connect):
    """Each vendor in turn, on one server."""
    async with connect("assistant") as client:
        for vendor in ("marketo", "hubspot"):
            text = await refused(
                client, "propose_archive_list", list_ref=LISTS[vendor](NEWSLETTER), reason=REASON
            )
            assert text.startswith("[invalid_input] 'Newsletter - Monthly' is the audience"), text
            assert "get_list_usage" in text


async def test_a_list_that_changed_since_the_plan_is_stale(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("hubspot")
    async with connect("assistant") as client:
        plan = await ok(client, "propose_archive_list", list_ref=hs.list_ref(LEGACY), reason=REASON)
        approve(settings, plan["change_id"])
        member = next(iter(emu.list_member_ids(hs.list_id(LEGACY))))
        emu.state.set_members(hs.list_id(LEGACY), [], [member], "2026-12-01T00:00:00Z")
        done = await apply(client, plan)
    assert done.is_error and "[stale]" in done.content[0].text, done.content[0].text
    assert not await archived(runtime, "hubspot")

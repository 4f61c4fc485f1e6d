"""A campaign status for someone who is not a member is settled in the plan, not discovered
at apply (issue #17, item 6): Marketo joins them with the status (said as action "join"),
Salesforce refuses non-members, so the plan blocks them and offers the add; and a Marketo
status that would move a member backwards is blocked before anyone approves it."""

from __future__ import annotations

from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.salesforce import ids as sf
from mopsgate.sandbox.seed import seed_data
from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.server.e2e_support import approve
from tests.server.test_changes_kit import REASON, apply, ok, people, refused

WEBINAR = 1
SEED = seed_data()
MEMBERS = dict(SEED.campaigns[WEBINAR].members)  # idx -> status
REGISTERED = next(i for i, s in MEMBERS.items() if s == "Registered")
ATTENDED = next(i for i, s in MEMBERS.items() if s == "Attended")
OUTSIDER = next(i for i in people("subscribed", 50, start=400) if i not in MEMBERS)


async def test_salesforce_blocks_non_members_and_offers_the_add(connect):
    campaign = sf.campaign_ref(WEBINAR)
    async with connect("assistant") as client:
        plan = await ok(
            client,
            "propose_set_campaign_status",
            campaign_ref=campaign,
            person_refs=[sf.person_ref(REGISTERED), sf.person_ref(OUTSIDER)],
            status="Attended",
            reason=REASON,
        )
        alone = await refused(
            client,
            "propose_set_campaign_status",
            campaign_ref=campaign,
            person_refs=[sf.person_ref(OUTSIDER)],
            status="Attended",
            reason=REASON,
        )
    assert [(r["ref"], r["action"]) for r in plan["records"]] == [
        (sf.person_ref(REGISTERED), "set_status")
    ]
    (blocked,) = plan["blocked"]
    assert blocked["ref"] == sf.person_ref(OUTSIDER) and blocked["reason_code"] == "not_a_member"
    assert f"propose_add_to_list with list_ref {campaign}" in blocked["reason"]
    assert alone.startswith("[invalid_input] none of these people is a member"), alone
    assert "propose_add_to_list" in alone


async def test_marketo_joins_non_members_and_never_moves_a_status_back(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("marketo")
    program = mk.program_ref(WEBINAR)
    refs = [mk.lead_ref(i) for i in (REGISTERED, ATTENDED, OUTSIDER)]
    async with connect("assistant") as client:
        plan = await ok(
            client,
            "propose_set_campaign_status",
            campaign_ref=program,
            person_refs=refs,
            status="Registered",
            reason=REASON,
        )
        actions = {r["ref"]: r["action"] for r in plan["records"]}
        assert actions == {refs[0]: "noop", refs[2]: "join"}
        assert [(b["ref"], b["reason_code"]) for b in plan["blocked"]] == [
            (refs[1], "status_backwards")
        ]
        assert "only moves a member's status forward" in plan["blocked"][0]["reason"]
        approve(settings, plan["change_id"])
        applied = await apply(client, plan)
        assert not applied.is_error
        assert applied.structured_content["status"] == "applied"
    assert emu.campaign_member_status(mk.program_id(WEBINAR), mk.lead_id(OUTSIDER)) == "Registered"
    assert emu.campaign_member_status(mk.program_id(WEBINAR), mk.lead_id(ATTENDED)) == "Attended"

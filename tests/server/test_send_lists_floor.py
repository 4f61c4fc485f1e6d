"""The compliance floor on every seeded send list of every connector (issue #16, item 1).

The attack run proposed, approved and applied opted-out people into Salesforce's "Newsletter -
Monthly" list: the floor knew send lists only from campaigns that name their audience, which
Salesforce never does. Each test here is that attack, or its trigger / schedule variant, and
ends with nothing written upstream and the call in the audit log. A vendor's send lists run
one after another on one server (proposals write nothing upstream; each list's checks are its
own and name it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.salesforce import ids as sf
from mopsgate.sandbox.seed import seed_data
from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.server.e2e_support import VENDORS, approve
from tests.server.test_changes_kit import (
    REASON,
    apply,
    cases_emulator,
    last_refusal,
    ok,
    refused,
)

SEED = seed_data()
# The seeded send lists: the audiences of the active email campaigns.
SEND_LISTS: dict[int, int] = {
    c.audience_list: c.idx
    for c in SEED.campaigns
    if c.active and c.sends_email and c.audience_list is not None
}
NEWSLETTER_SF = "salesforce:Campaign:7015e0001000000"  # the list the attack run used
LIST_ID = {"marketo": mk.list_id, "hubspot": hs.list_id, "salesforce": sf.list_id}
LIST_REF = {"marketo": mk.list_ref, "hubspot": hs.list_ref, "salesforce": sf.list_ref}
# The campaign that sends to a list: what a trigger or a schedule names.
SENDER = {
    "marketo": mk.smart_campaign_ref,
    "hubspot": hs.campaign_ref,
    "salesforce": sf.campaign_ref,
}
BLOCKED = {"opted_out": "opted_out", "unknown": "consent_unknown", "suppressed": "suppressed"}


def outsiders(list_idx: int) -> dict[str, int]:
    """One person of each consent status who is not in the list (not a duplicate)."""
    members = set(SEED.lists[list_idx].members)
    found: dict[str, int] = {}
    for p in SEED.people:
        if p.idx not in members and p.duplicate_of is None:
            found.setdefault(p.consent_status, p.idx)
    assert set(found) == {"subscribed", *BLOCKED}
    return found


def members_of(runtime: Runtime, vendor: str, list_idx: int) -> set[str]:
    emu = runtime.connectors.emulator(vendor)
    return {str(m) for m in emu.list_member_ids(LIST_ID[vendor](list_idx))}


def rows_of(settings: Settings, tool: str, since: int = 0) -> list[dict[str, Any]]:
    return [r for r in audit_rows(settings)[since:] if r["tool"] == tool]


def test_the_seed_has_three_send_lists():
    names = {SEED.lists[i].name for i in SEND_LISTS}
    assert names == {"Newsletter - Monthly", "Webinar Nov 2026 Invitees", "Product Updates Beta"}
    assert LIST_REF["salesforce"](0) == NEWSLETTER_SF


async def test_add_to_send_list_blocks_who_may_not_be_emailed(
    connect, runtime: Runtime, settings: Settings
):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            v = VENDORS[vendor]
            emu = cases_emulator(runtime, vendor)
            for list_idx in sorted(SEND_LISTS):
                who = outsiders(list_idx)
                list_ref = LIST_REF[vendor](list_idx)
                before = members_of(runtime, vendor, list_idx)
                seen = len(audit_rows(settings))
                plan = await ok(
                    client,
                    "propose_add_to_list",
                    list_ref=list_ref,
                    person_refs=[v.ref(i) for i in who.values()],
                    reason=REASON,
                )
                assert [(r["ref"], r["action"]) for r in plan["records"]] == [
                    (v.ref(who["subscribed"]), "add")
                ], list_idx
                assert {b["ref"]: b["reason_code"] for b in plan["blocked"]} == {
                    v.ref(who[s]): code for s, code in BLOCKED.items()
                }, list_idx
                blocked = plan["blocked"]
                assert all("feeds email sends" in b["reason"] for b in blocked), (list_idx, blocked)
                text = await refused(
                    client,
                    "propose_add_to_list",
                    list_ref=list_ref,
                    person_refs=[v.ref(who[s]) for s in BLOCKED],
                    reason=REASON,
                )
                assert "[compliance_floor]" in text and "3 blocked" in text, (list_idx, text)
                assert emu.core.write_requests == [], list_idx
                assert members_of(runtime, vendor, list_idx) == before, list_idx
                refusal = last_refusal(settings, "propose_add_to_list", since=seen)
                assert refusal["error_code"] == "compliance_floor", list_idx
                rows = rows_of(settings, "propose_add_to_list", since=seen)
                assert (rows[0]["outcome"], rows[0]["change_id"]) == ("ok", plan["change_id"])


async def test_salesforce_newsletter_attack_applies_only_who_may_be_emailed(
    connect, runtime: Runtime, settings: Settings
):
    """The attack end to end: propose opted-out people into the newsletter list, approve,
    apply. Only the subscribed person is added; nobody who may not be emailed is."""
    v = VENDORS["salesforce"]
    emu = runtime.connectors.emulator("salesforce")
    who = outsiders(0)
    async with connect("assistant") as client:
        plan = await ok(
            client,
            "propose_add_to_list",
            list_ref=NEWSLETTER_SF,
            person_refs=[v.ref(i) for i in who.values()],
            reason=REASON,
        )
        assert len(plan["blocked"]) == 3 and "blocked" in plan["diff_text"]
        approve(settings, plan["change_id"])
        done = await apply(client, plan)
        assert not done.is_error and done.structured_content["status"] == "applied"
    added = members_of(runtime, "salesforce", 0) - {sf.person_id(i) for i in SEED.lists[0].members}
    assert added == {sf.person_id(who["subscribed"])}
    assert len(emu.core.write_requests) == 1
    assert any(r["reason"] == "apply requested" for r in rows_of(settings, "apply_change"))


async def test_trigger_for_a_send_list_campaign_blocks_or_says_it_cannot(
    connect, runtime: Runtime, settings: Settings
):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            v = VENDORS[vendor]
            emu = cases_emulator(runtime, vendor)
            for list_idx in sorted(SEND_LISTS):
                camp = SEED.campaigns[SEND_LISTS[list_idx]]
                who = outsiders(list_idx)
                people = [v.ref(i) for i in who.values()]
                campaign_ref = SENDER[vendor](camp.idx)
                seen = len(audit_rows(settings))
                if vendor == "marketo" and camp.triggerable:
                    plan = await ok(
                        client,
                        "propose_trigger_campaign",
                        campaign_ref=campaign_ref,
                        person_refs=people,
                        reason=REASON,
                    )
                    assert [r["ref"] for r in plan["records"]] == [v.ref(who["subscribed"])]
                    assert {b["reason_code"] for b in plan["blocked"]} == set(BLOCKED.values())
                    text = await refused(
                        client,
                        "propose_trigger_campaign",
                        campaign_ref=campaign_ref,
                        person_refs=[v.ref(who[s]) for s in BLOCKED],
                        reason=REASON,
                    )
                    assert "[compliance_floor]" in text, (list_idx, text)
                else:  # the vendor (or this campaign) has no API trigger: the refusal says so
                    text = await refused(
                        client,
                        "propose_trigger_campaign",
                        campaign_ref=campaign_ref,
                        person_refs=people,
                        reason=REASON,
                    )
                    assert "[not_supported]" in text and "cannot be triggered" in text, (
                        list_idx,
                        text,
                    )
                assert emu.core.write_requests == [], list_idx
                assert rows_of(settings, "propose_trigger_campaign", since=seen), list_idx
                refusal = last_refusal(settings, "propose_trigger_campaign", since=seen)
                assert refusal["decision"] in ("allowed", "denied"), list_idx


async def test_schedule_of_a_send_list_campaign_is_refused(
    connect, runtime: Runtime, settings: Settings
):
    """Every seeded send list holds people who may not be emailed, so no schedule of the
    campaign that sends to it may be planned; where the vendor has no schedule API the
    refusal says that instead.
    Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            emu = cases_emulator(runtime, vendor)
            run_at = (datetime.now(UTC) + timedelta(days=2)).isoformat()
            for list_idx in sorted(SEND_LISTS):
                camp = SEED.campaigns[SEND_LISTS[list_idx]]
                seen = len(audit_rows(settings))
                text = await refused(
                    client,
                    "propose_schedule_campaign",
                    campaign_ref=SENDER[vendor](camp.idx),
                    run_at=run_at,
                    reason=REASON,
                )
                if vendor == "marketo" and camp.schedulable:
                    assert "[compliance_floor]" in text and "opted out" in text, (list_idx, text)
                    code = "compliance_floor"
                else:
                    assert "[not_supported]" in text and "cannot be scheduled" in text, (
                        list_idx,
                        text,
                    )
                    code = "not_supported"
                assert emu.core.write_requests == [], list_idx
                assert getattr(emu, "scheduled", []) == [], list_idx
                refusal = last_refusal(settings, "propose_schedule_campaign", since=seen)
                assert refusal["error_code"] == code, list_idx


async def test_salesforce_lists_of_unknown_use_count_as_send_lists(
    connect, runtime: Runtime, settings: Settings
):
    """Fail closed: a Salesforce list the manifest does not declare is a send list; one it
    declares is not; and a declaration cannot lower the floor where Salesforce itself says the
    campaign is emailed (an Email campaign's members are its audience)."""
    v = VENDORS["salesforce"]
    emu = runtime.connectors.emulator("salesforce")
    opted_out = outsiders(3)["opted_out"]
    text = settings.manifest_path.read_text()
    settings.manifest_path.write_text(
        text.replace("7015e0001000003", "7015e0000000000")  # declare the Email campaign instead
    )
    async with connect("assistant") as client:
        undeclared = await refused(
            client,
            "propose_add_to_list",
            list_ref=sf.list_ref(3),
            person_refs=[v.ref(opted_out)],
            reason=REASON,
        )
        assert "[compliance_floor]" in undeclared, undeclared
        declared = await ok(
            client,
            "propose_add_to_list",
            list_ref=sf.list_ref(6),
            person_refs=[v.ref(outsiders(6)["opted_out"])],
            reason=REASON,
        )
        assert declared["blocked"] == [] and declared["records"][0]["action"] == "add"
        named = await refused(
            client,
            "propose_add_to_list",
            list_ref=sf.campaign_ref(0),
            person_refs=[v.ref(outsiders(0)["opted_out"])],
            reason=REASON,
        )
        assert "[compliance_floor]" in named, named
    assert emu.core.write_requests == []
    assert len(rows_of(settings, "propose_add_to_list")) == 3


async def test_unknown_marketo_audience_makes_every_list_a_send_list(
    connect, runtime: Runtime, settings: Settings
):
    """A smart campaign whose audience names two lists: which lists feed sends is unknown, so
    an add to any list is policed, and its schedule is refused rather than checked against an
    audience the floor cannot see."""
    emu = runtime.connectors.emulator("marketo")
    emu.set_campaign_audience(
        mk.smart_campaign_id(1), "Webinar Nov 2026 Invitees, Event Follow-up Q4"
    )
    opted_out = outsiders(3)["opted_out"]
    run_at = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    async with connect("assistant") as client:
        plan = await ok(
            client,
            "propose_add_to_list",
            list_ref=mk.list_ref(3),
            person_refs=[mk.lead_ref(opted_out), mk.lead_ref(outsiders(3)["subscribed"])],
            reason=REASON,
        )
        assert [b["ref"] for b in plan["blocked"]] == [mk.lead_ref(opted_out)]
        assert "cannot show whether this list feeds email sends" in plan["blocked"][0]["reason"]
        text = await refused(
            client,
            "propose_schedule_campaign",
            campaign_ref=mk.smart_campaign_ref(1),
            run_at=run_at,
            reason=REASON,
        )
        assert "[compliance_floor]" in text and "cannot be established" in text, text
    assert emu.core.write_requests == [] and emu.scheduled == []
    assert last_refusal(settings, "propose_schedule_campaign")["error_code"] == "compliance_floor"

"""find_consent_conflicts finds exactly the conflicts seeded in each emulator."""

from __future__ import annotations

from collections import Counter

import pytest

from mopsgate.sandbox.marketo import ids as mk
from mopsgate.server.app import Runtime
from tests.tools.seed_facts import NAMES, SEED, VENDORS, expected_conflicts, first
from tests.tools.test_reads_per_vendor import ok, refused

SENDING = [c.idx for c in SEED.campaigns if c.active and c.sends_email]


def checked_campaigns(name: str) -> set[str]:
    v = VENDORS[name]
    refs = {v.members_ref(i) for i in SENDING}
    if name == "marketo":  # the smart campaigns that send to the audience lists
        refs |= {mk.smart_campaign_ref(i) for i in SENDING}
    return refs


@pytest.mark.parametrize("name", NAMES)
async def test_finds_exactly_the_seeded_conflicts(name, connect):
    v = VENDORS[name]
    expected = expected_conflicts(v)
    async with connect("assistant") as client:
        got = await ok(client, "find_consent_conflicts", {"connector": name})
    assert got["complete"] and got["unreadable"] == []
    assert got["total_conflicts"] == len(expected) == len(got["conflicts"])
    assert {c["person_ref"]: set(c["found_in"]) for c in got["conflicts"]} == expected
    by_ref = {v.person_ref(p.idx): p for p in SEED.people}
    assert got["by_status"] == dict(Counter(by_ref[r].consent_status for r in expected))
    for c in got["conflicts"]:
        assert c["consent_status"] == by_ref[c["person_ref"]].consent_status
        assert c["reasons"][0] == c["consent_status"]
    assert set(got["campaigns_checked"]) == checked_campaigns(name)
    lists = {v.list_ref(SEED.campaigns[i].audience_list or 0) for i in SENDING}
    assert set(got["lists_checked"]) == (lists if v.audience_lists else set())
    assert "Salesforce" in got["definition"]


@pytest.mark.parametrize("name", NAMES)
async def test_one_campaign_and_a_fresh_opt_out(name, connect, runtime: Runtime):
    """Limited to the welcome trigger campaign; a subscribed member opted out in the vendor
    shows up on the next call."""
    v = VENDORS[name]
    trigger = SEED.campaigns[2]
    member = first(lambda p: p.consent_status == "subscribed" and p.idx in dict(trigger.members))
    opt_out_field = {"marketo": "unsubscribed", "hubspot": "hs_email_optout"}.get(
        name, "HasOptedOutOfEmail"
    )
    value: object = "true" if name == "hubspot" else True
    runtime.connectors.emulator(name).set_person_field(v.native(member.idx), opt_out_field, value)
    ref = mk.smart_campaign_ref(2) if name == "marketo" else v.members_ref(2)
    async with connect("assistant") as client:
        got = await ok(client, "find_consent_conflicts", {"connector": name, "campaign_ref": ref})
        members = await ok(
            client, "find_consent_conflicts", {"connector": name, "campaign_ref": v.members_ref(2)}
        )
    found = {c["person_ref"]: c for c in got["conflicts"]} | {
        c["person_ref"]: c for c in members["conflicts"]
    }
    expected = set(expected_conflicts(v, only=2)) | {v.person_ref(member.idx)}
    assert set(found) == expected
    assert found[v.person_ref(member.idx)]["consent_status"] == "opted_out"


async def test_campaign_from_another_connector_is_refused(connect):
    async with connect("assistant") as client:
        text = await refused(
            client,
            "find_consent_conflicts",
            {"connector": "hubspot", "campaign_ref": VENDORS["salesforce"].members_ref(0)},
        )
    assert "hubspot has no object 'Campaign'" in text
    async with connect("analyst") as client:
        analyst = await refused(client, "find_consent_conflicts", {"connector": "hubspot"})
    assert "[not_permitted]" in analyst

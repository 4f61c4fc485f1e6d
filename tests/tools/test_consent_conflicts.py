"""find_consent_conflicts finds exactly the conflicts seeded in each emulator."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.salesforce import ids as sf
from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from mopsgate.tools import consent_conflicts
from tests.conftest import audit_rows
from tests.support.unpaced import unpaced_runtime  # noqa: F401 - the runtime fixture here
from tests.tools.seed_facts import (
    NAMES,
    SEED,
    VENDORS,
    expected_conflicts,
    first,
    person_status,
)
from tests.tools.test_reads_per_vendor import ok, refused

SENDING = [c.idx for c in SEED.campaigns if c.active and c.sends_email]


def checked_campaigns(name: str) -> set[str]:
    v = VENDORS[name]
    refs = {v.members_ref(i) for i in SENDING}
    if name == "marketo":  # the smart campaigns that send to the audience lists
        refs |= {mk.smart_campaign_ref(i) for i in SENDING}
    return refs


# Salesforce cannot name its send lists; the shipped manifest declares these feed no sends.
SF_DECLARED = {sf.list_ref(i) for i in (2, 3, 6)}


@pytest.mark.parametrize("name", NAMES)
async def test_finds_exactly_the_seeded_conflicts(name, connect, runtime: Runtime, settings):
    """The attack run found Salesforce reporting 73 conflicts and complete: true while Marketo
    and HubSpot reported 177 for the same people: every connector must find the same 182 (177
    by their own record, and 5 subscribed records whose address another record holds opted
    out or of unknown consent: the floor blocks them too)."""
    v = VENDORS[name]
    expected = expected_conflicts(v)
    async with connect("assistant") as client:
        got = await ok(client, "find_consent_conflicts", {"connector": name})
    assert got["complete"] and got["unreadable"] == []
    assert got["total_conflicts"] == len(expected) == len(got["conflicts"]) == 182
    assert got["by_status"] == {"opted_out": 99, "unknown": 48, "suppressed": 35}
    assert {c["person_ref"]: set(c["found_in"]) for c in got["conflicts"]} == expected
    status = {v.person_ref(p.idx): person_status(p.idx) for p in SEED.people}
    assert got["by_status"] == dict(Counter(status[r] for r in expected))
    for c in got["conflicts"]:
        assert c["consent_status"] == status[c["person_ref"]]
        assert c["reasons"][0] == c["consent_status"]
    dup = {c["person_ref"]: c for c in got["conflicts"]}[v.person_ref(221)]
    assert dup["reasons"][1] == (
        f"opted out of email on {v.person_ref(149)}, another record with the same email address"
    )
    assert set(got["campaigns_checked"]) == checked_campaigns(name)
    lists = {v.list_ref(SEED.campaigns[i].audience_list or 0) for i in SENDING}
    assert set(got["lists_checked"]) == lists
    declared = SF_DECLARED if name == "salesforce" else set()
    assert set(got["lists_declared_not_send"]) == declared
    assert "Salesforce" in got["definition"]
    assert runtime.connectors.emulator(name).core.write_requests == []
    assert last_call(settings)["result_summary"].startswith("182 conflicts")


def last_call(settings: Settings) -> dict[str, Any]:
    rows = [r for r in audit_rows(settings) if r["tool"] == "find_consent_conflicts"]
    assert rows and rows[-1]["outcome"] == "ok"
    return rows[-1]


async def test_salesforce_without_declarations_checks_every_list(connect, settings: Settings):
    """Fail closed: with no not_send_lists in the manifest, every Salesforce list may feed a
    send, so every one is checked; the count grows and is still complete."""
    text = settings.manifest_path.read_text()
    head, _, rest = text.partition("[[connectors.salesforce.not_send_lists]]")
    settings.manifest_path.write_text(head + rest[rest.index("\n# --- Extra PII") :])
    v = VENDORS["salesforce"]
    static = {lst.idx for lst in SEED.lists if lst.kind == "static"}
    expected = expected_conflicts(v)
    for idx in static:
        for person in SEED.lists[idx].members:
            if person_status(person) != "subscribed":
                expected.setdefault(v.person_ref(person), set()).add(v.list_ref(idx))
    async with connect("assistant") as client:
        got = await ok(client, "find_consent_conflicts", {"connector": "salesforce"})
    assert got["complete"] and got["lists_declared_not_send"] == []
    assert set(got["lists_checked"]) == {v.list_ref(i) for i in static}
    assert {c["person_ref"]: set(c["found_in"]) for c in got["conflicts"]} == expected
    assert got["total_conflicts"] == len(expected) > 182
    assert last_call(settings)["result_summary"].startswith(f"{len(expected)} conflicts")


async def test_a_list_scan_cut_short_is_not_complete(
    connect, runtime: Runtime, settings: Settings, monkeypatch
):
    """Where every Salesforce list must be checked, a scan that stops at its limit says
    complete: false instead of passing off the lists it reached as all of them."""
    monkeypatch.setattr(consent_conflicts, "MAX_LISTS", 2)
    async with connect("assistant") as client:
        got = await ok(client, "find_consent_conflicts", {"connector": "salesforce"})
    assert not got["complete"]
    assert runtime.connectors.emulator("salesforce").core.write_requests == []
    last_call(settings)


async def test_a_campaign_naming_several_lists_makes_the_answer_incomplete(
    connect, runtime: Runtime, settings: Settings
):
    """A Marketo smart campaign whose audience names two lists: which lists feed sends is no
    longer known, so every list is checked, and the smart list that cannot be read makes the
    answer say complete: false rather than pass a partial count off as complete."""
    emu = runtime.connectors.emulator("marketo")
    emu.set_campaign_audience(mk.smart_campaign_id(2), "Product Updates Beta, Event Follow-up Q4")
    async with connect("assistant") as client:
        got = await ok(client, "find_consent_conflicts", {"connector": "marketo"})
    assert not got["complete"]
    assert got["unreadable"] == [mk.list_ref(4)]  # "All MQLs (smart)": a smart list
    assert mk.list_ref(3) in got["lists_checked"]  # not named by any campaign, still checked
    assert emu.core.write_requests == []
    last_call(settings)


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
    linked = name != "salesforce"  # one Salesforce campaign names no audience list
    expected = set(expected_conflicts(v, only=2, audience=linked)) | {v.person_ref(member.idx)}
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

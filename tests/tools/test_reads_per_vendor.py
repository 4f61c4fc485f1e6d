"""Every read tool on every connector, through the MCP in-memory client, against the seed."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from mopsgate.connectors.schema import PERSON_OBJECTS
from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.sandbox.marketo import ids as mk
from tests.conftest import text_of
from tests.tools.seed_facts import (
    EMAIL_TYPES,
    NAMES,
    SEED,
    VENDORS,
    expected_duplicates,
    first,
    first_with,
    lead_like,
    unique_email,
)


async def ok(client: Any, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, text_of(result)
    content: dict[str, Any] = result.structured_content
    return content


async def refused(client: Any, tool: str, args: dict[str, Any]) -> str:
    result = await client.call_tool(tool, args)
    assert result.is_error, result.structured_content
    return text_of(result)


async def walk(client: Any, tool: str, args: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        page = await ok(client, tool, {**args, "cursor": cursor})
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("paging did not end")


def masked_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[0]}***@{domain}"


@pytest.mark.parametrize("name", NAMES)
async def test_people_tools(name, connect):
    v = VENDORS[name]
    p = first(lambda p: p.consent_status == "subscribed")
    ref = v.person_ref(p.idx)
    email, company = v.fields["email"], v.fields["company"]
    async with connect("assistant") as client:
        found = await ok(client, "search_people", {"connector": name, "email": p.email})
        person = await ok(client, "get_person", {"ref": ref})
        some = await ok(client, "get_person", {"ref": ref, "fields": [company, email]})
        described = await ok(client, "describe_fields", {"connector": name})
        for status in ("opted_out", "suppressed", "unknown", "subscribed"):
            trap = first_with(status)
            got = await ok(client, "get_consent_state", {"ref": v.person_ref(trap.idx)})
            assert got["consent"]["status"] == status and got["explanation"]
            assert got["sendable"] is (status == "subscribed")
    assert [i["ref"] for i in found["items"]] == [ref]
    assert person["fields"][company] == p.company
    assert person["fields"][email] == masked_email(p.email)
    assert email in person["masked"] and person["withheld"] == []
    assert person["consent"]["status"] == "subscribed"
    assert set(some["fields"]) == {company, email}
    schema = PERSON_OBJECTS[name][v.person_obj(p.idx)]
    fields = {f["name"]: f for f in described["fields"]}
    assert {s.name for s in schema} <= set(fields)
    assert fields[email]["pii"] and fields[email]["readable_by_you"]
    assert not fields[email]["writable_by_you"]


@pytest.mark.parametrize("name", NAMES)
async def test_list_tools(name, connect):
    v = VENDORS[name]
    p = first(lambda p: sum(p.idx in lst.members for lst in SEED.lists) >= 2)
    lists = [lst for lst in SEED.lists if lst.kind == "static" or not v.static_lists]
    async with connect("assistant") as client:
        got = await ok(client, "list_lists", {"connector": name})
        named = await ok(client, "list_lists", {"connector": name, "name_contains": "Newsletter"})
        members = await ok(client, "list_members", {"list_ref": v.list_ref(5), "limit": 100})
        ships = await ok(client, "get_person_memberships", {"person_ref": v.person_ref(p.idx)})
    assert sorted((i["ref"], i["name"]) for i in got["items"]) == sorted(
        (v.list_ref(lst.idx), lst.name) for lst in lists
    )
    assert [i["ref"] for i in named["items"]] == [v.list_ref(0)]
    assert len(members["items"]) == 100 and members["next_cursor"]
    assert {i["ref"] for i in members["items"]} <= {v.person_ref(i) for i in SEED.lists[5].members}
    readable = [lst for lst in lists if lst.kind == "static" or name == "hubspot"]
    assert {x["ref"] for x in ships["lists"]} == {
        v.list_ref(lst.idx) for lst in readable if p.idx in lst.members
    }
    in_campaigns = {
        (v.members_ref(c.idx), s) for c in SEED.campaigns for i, s in c.members if i == p.idx
    }
    got_campaigns = {(c["campaign_ref"], c["status"]) for c in ships["campaigns"]}
    if name == "hubspot":
        assert got_campaigns == set() and "HubSpot" in ships["notes"]
    else:
        assert got_campaigns == in_campaigns


@pytest.mark.parametrize("name", NAMES)
async def test_campaign_tools(name, connect):
    v = VENDORS[name]
    webinar = SEED.campaigns[1]
    async with connect("assistant") as client:
        listed = await ok(client, "list_campaigns", {"connector": name, "limit": 100})
        camp = await ok(client, "get_campaign", {"campaign_ref": v.members_ref(1)})
        perf = await ok(client, "campaign_performance", {"campaign_ref": v.members_ref(1)})
        budget = await ok(client, "api_budget", {"connector": name})
    assert budget["connector"] == name and budget["notes"]
    assert budget["calls_made_by_mopsgate"] >= 3
    refs = [c["ref"] for c in listed["items"]]
    expected = [v.members_ref(c.idx) for c in SEED.campaigns]
    if name == "marketo":
        expected += [mk.smart_campaign_ref(c.idx) for c in SEED.campaigns]
    assert refs == expected
    assert camp["name"] == webinar.name
    statuses = Counter(s for _, s in webinar.members)
    success = {n for n, _, ok_ in webinar.ladder if ok_}
    assert perf["members"] == len(webinar.members)
    if name == "hubspot":  # no ladder: attribution types, success undefined
        assert camp["status_ladder"] == [] and camp["audience_list_ref"] == v.list_ref(1)
        assert {r["status"]: r["members"] for r in perf["by_status"]} == Counter(
            hs.contact_type_for_status(s) for _, s in webinar.members
        )
        assert perf["successes"] is None and perf["success_rate"] is None
        return
    assert [s["name"] for s in camp["status_ladder"]] == [
        n for n, _, _ in sorted(webinar.ladder, key=lambda s: s[1])
    ]
    assert {r["status"]: r["members"] for r in perf["by_status"]} == statuses
    assert {r["status"] for r in perf["by_status"] if r["success"]} == success & set(statuses)
    assert perf["successes"] == sum(statuses[s] for s in success)
    assert perf["success_rate"] == round(perf["successes"] / perf["members"], 4)


async def test_marketo_smart_campaigns_carry_audience_and_program_channel(connect):
    async with connect("assistant") as client:
        send = await ok(client, "get_campaign", {"campaign_ref": mk.smart_campaign_ref(0)})
        trade_show = await ok(client, "get_campaign", {"campaign_ref": mk.smart_campaign_ref(3)})
    assert send["audience_list_ref"] == mk.list_ref(0) and send["sends_email"]
    assert trade_show["audience_list_ref"] == mk.list_ref(3)
    assert not trade_show["sends_email"]  # its program is an Event: no e-mail


def _busy_person(name: str) -> int:
    kinds = EMAIL_TYPES if name == "hubspot" else None
    counts = Counter(
        a.person_idx
        for a in SEED.activities
        if (kinds is None or a.type in kinds)
        and unique_email(a.person_idx)
        and lead_like(a.person_idx)
    )
    return counts.most_common(1)[0][0]


@pytest.mark.parametrize("name", NAMES)
async def test_activity_tools(name, connect):
    v = VENDORS[name]
    idx = _busy_person(name)
    mine = [
        a
        for a in SEED.activities
        if a.person_idx == idx and (name != "hubspot" or a.type in EMAIL_TYPES)
    ]
    by_campaign = [
        a
        for a in SEED.activities
        if a.campaign_idx == 0 and (name != "hubspot" or a.type in EMAIL_TYPES)
    ]
    when = sorted(a.occurred_at for a in mine)[len(mine) // 2]
    kind = mine[0].type
    async with connect("assistant") as client:
        acts = await walk(client, "get_activities", {"person_ref": v.person_ref(idx), "limit": 3})
        typed = await walk(
            client, "get_activities", {"person_ref": v.person_ref(idx), "types": [kind]}
        )
        later = await walk(
            client, "get_activities", {"person_ref": v.person_ref(idx), "since": when.isoformat()}
        )
        camp = await walk(
            client, "get_activities", {"campaign_ref": v.members_ref(0), "limit": 100}
        )
    assert sorted(a["ref"] for a in acts) == sorted(v.activity_ref(a.idx) for a in mine)
    assert {a["person_ref"] for a in acts} == {v.person_ref(idx)}
    assert len(typed) == sum(a.type == kind for a in mine) and {a["type"] for a in typed} == {kind}
    assert len(later) == sum(a.occurred_at >= when for a in mine)
    assert len(camp) == len(by_campaign)
    assert len({a["ref"] for a in camp}) == len(camp)


async def test_find_duplicates_across_the_database(connect):
    """Salesforce compares Leads and Contacts together (a Lead duplicating a Contact is the
    classic case); HubSpot's whole-database walk is the same code over a slower search API."""
    v = VENDORS["salesforce"]
    expected = expected_duplicates(v)
    pages = []
    cursor = None
    async with connect("assistant") as client:
        for _ in range(20):
            args = {"connector": "salesforce", "limit": 100, "cursor": cursor}
            pages.append(got := await ok(client, "find_duplicates", args))
            if (cursor := got["next_cursor"]) is None:
                break
    got = pages[0]
    assert got["complete"] and got["records_scanned"] == len(SEED.people)
    assert got["total_groups"] == len(expected) > 500  # no longer cut at 500 groups
    every = [g for page in pages for g in page["groups"]]
    groups = {(g["match"], frozenset(g["people"])) for g in every}
    assert groups == expected and len(every) == len(expected)
    assert all(len(page["groups"]) == 100 for page in pages[:-1])
    assert any({r.split(":")[1] for r in people} == {"Lead", "Contact"} for _, people in groups)
    email_keys = [g["key"] for g in every if g["match"] == "email"]
    assert email_keys and all("***@" in k for k in email_keys)


@pytest.mark.parametrize("name", ["marketo", "hubspot"])
async def test_find_duplicates_inside_a_list(name, connect):
    v = VENDORS[name]
    expected = expected_duplicates(v, set(SEED.lists[0].members))
    args = {"connector": name, "list_ref": v.list_ref(0), "limit": 100}
    async with connect("assistant") as client:
        got = await ok(client, "find_duplicates", args)
        rest = await ok(client, "find_duplicates", {**args, "cursor": got["next_cursor"]})
    assert rest["next_cursor"] is None
    every = got["groups"] + rest["groups"]
    assert {(g["match"], frozenset(g["people"])) for g in every} == expected
    assert got["records_scanned"] == len(SEED.lists[0].members) and got["complete"]


async def test_marketo_refuses_what_its_api_cannot_do(connect):
    async with connect("assistant") as client:
        no_key = await refused(
            client, "search_people", {"connector": "marketo", "consent": "unknown"}
        )
        no_list = await refused(client, "find_duplicates", {"connector": "marketo"})
        smart_list = await refused(client, "list_members", {"list_ref": mk.list_ref(4)})
        smart_perf = await refused(
            client, "campaign_performance", {"campaign_ref": mk.smart_campaign_ref(0)}
        )
    for text in (no_key, no_list, smart_list, smart_perf):
        assert "[not_supported]" in text and "not supported by marketo" in text
    assert "list_ref" in no_list and "program" in smart_perf

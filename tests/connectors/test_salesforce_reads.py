"""Contract tests of the Salesforce client's reads against the emulator, checked against seed."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from mopsgate.connectors.http import RateLimiter, RetryPolicy
from mopsgate.connectors.salesforce.client import SalesforceClient
from mopsgate.connectors.schema import field_by_role
from mopsgate.crm.connector import Connector
from mopsgate.crm.errors import InvalidRequest, NotFoundError
from mopsgate.crm.records import PersonQuery
from mopsgate.sandbox.emulator_base import LoggedRequest
from mopsgate.sandbox.salesforce import ids
from mopsgate.sandbox.salesforce.connect import sandbox_client
from mopsgate.sandbox.salesforce.emulator import SalesforceEmulator
from mopsgate.sandbox.seed import seed_data

SEED = seed_data()
Env = tuple[SalesforceEmulator, SalesforceClient]


async def _noop(_: float) -> None:
    return None


def _client(emu: SalesforceEmulator, **kw: Any) -> SalesforceClient:
    return sandbox_client(
        emu,
        retry=RetryPolicy(sleep=_noop, jitter=lambda: 0.5),
        limiter=RateLimiter(10_000, 1.0, 50),
        **kw,
    )


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    emu = SalesforceEmulator(page_size=200)
    client = _client(emu)
    yield emu, client
    await client.aclose()


def _queries(emu: SalesforceEmulator) -> list[LoggedRequest]:
    return [r for r in emu.core.requests if "/query" in r.path]


async def test_client_implements_the_protocol(env: Env) -> None:
    _, client = env
    assert isinstance(client, Connector)
    assert client.person_objects == ("Lead", "Contact") and client.capabilities.update_batch == 200


async def test_get_person_maps_fields_and_consent(env: Env) -> None:
    _, client = env
    for trap in ("opted_out", "suppressed", "unknown_consent"):
        idx = SEED.traps[trap][0]
        person = await client.get_person(ids.person_ref(idx))
        seed = SEED.people[idx]
        assert person.object == ids.person_object(idx)
        assert person.fields["Email"] == seed.email
        assert person.consent.status == seed.consent_status
        owner = field_by_role("salesforce", person.object, "owner_id")
        assert owner is not None and person.fields[owner.name] == ids.owner_id(seed.owner_idx)
    contact = await client.get_person(ids.person_ref(4))
    assert contact.fields["Company__c"] == SEED.people[4].company


async def test_missing_person_is_not_found_with_vendor_message(env: Env) -> None:
    _, client = env
    with pytest.raises(NotFoundError) as exc:
        await client.get_person("salesforce:Lead:00Q5e0000999999")
    assert exc.value.code == "NOT_FOUND"
    assert exc.value.message == "The requested resource does not exist"


async def test_search_pages_every_person_exactly_once(env: Env) -> None:
    emu, client = env
    seen: list[str] = []
    cursor = None
    calls = 0
    while True:
        page = await client.search_people(PersonQuery(), cursor=cursor, limit=333)
        assert len(page.items) <= 333
        seen.extend(p.ref for p in page.items)
        calls += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == len(SEED.people)
    assert set(seen) == {ids.person_ref(p.idx) for p in SEED.people}
    assert calls == math.ceil(len(SEED.people) / 333)
    assert any("/query/01g" in r.path for r in emu.core.requests)  # followed query locators


async def test_search_filters_match_seed(env: Env) -> None:
    _, client = env
    lst = SEED.lists[0]
    page = await client.search_people(
        PersonQuery(list_ref=ids.list_ref(0), consent="opted_out"), limit=2000
    )
    expected = {ids.person_ref(i) for i in lst.members if SEED.people[i].email_opt_out}
    assert {p.ref for p in page.items} == expected
    assert all(p.consent.status == "opted_out" for p in page.items)
    page = await client.search_people(
        PersonQuery(object="Contact", lifecycle_stage="mql"), limit=2000
    )
    assert {p.ref for p in page.items} == {
        ids.person_ref(p.idx)
        for p in SEED.people
        if ids.is_contact(p.idx) and p.lifecycle_stage == "mql"
    }
    owner = ids.owner_ref(3)
    page = await client.search_people(PersonQuery(owner_id=owner, consent="unknown"), limit=2000)
    assert {p.ref for p in page.items} == {
        ids.person_ref(p.idx)
        for p in SEED.people
        if p.owner_idx == 3 and p.consent_status == "unknown"
    }


async def test_email_search_is_case_insensitive_and_finds_duplicates(env: Env) -> None:
    _, client = env
    dup = next(
        p
        for p in SEED.people
        if p.duplicate_of is not None and p.email == SEED.people[p.duplicate_of].email.upper()
    )
    orig = dup.duplicate_of
    assert orig is not None
    page = await client.search_people(PersonQuery(email=SEED.people[orig].email))
    assert {ids.person_ref(dup.idx), ids.person_ref(orig)} <= {p.ref for p in page.items}


async def test_name_search_uses_the_full_name(env: Env) -> None:
    _, client = env
    seed = SEED.people[1]
    page = await client.search_people(
        PersonQuery(name=f"{seed.first_name} {seed.last_name}"), limit=2000
    )
    assert ids.person_ref(1) in {p.ref for p in page.items}


async def test_bad_cursor_and_object_are_refused(env: Env) -> None:
    _, client = env
    with pytest.raises(InvalidRequest):
        await client.search_people(PersonQuery(), cursor="Lead|/services/data/v62.0/limits")
    with pytest.raises(InvalidRequest):
        await client.search_people(PersonQuery(object="Account"))


async def test_get_people_batches_by_200(env: Env) -> None:
    emu, client = env
    refs = [ids.person_ref(i) for i in range(450)]
    emu.core.reset_log()
    people = await client.get_people([*refs, "salesforce:Lead:00Q5e0000999999", "junk"])
    assert set(people) == set(refs)
    leads = sum(1 for i in range(450) if not ids.is_contact(i))
    assert len(_queries(emu)) == math.ceil(leads / 200) + math.ceil((450 - leads) / 200)


async def test_describe_fields_marks_pii_consent_and_read_only(env: Env) -> None:
    _, client = env
    fields = {f.name: f for f in await client.describe_fields("Lead")}
    assert fields["Email"].pii and fields["Phone"].pii and not fields["Title"].pii
    assert fields["HasOptedOutOfEmail"].consent and not fields["HasOptedOutOfEmail"].read_only
    assert fields["EmailBouncedReason"].read_only and fields["CreatedDate"].read_only
    assert fields["Status"].picklist == ["New", "Working", "Nurture", "Qualified", "Unqualified"]
    assert "Status" not in {f.name for f in await client.describe_fields("Contact")}
    with pytest.raises(InvalidRequest):
        await client.describe_fields("User")


async def test_lists_are_list_campaigns_without_the_dynamic_list(env: Env) -> None:
    _, client = env
    first = await client.list_lists(limit=4)
    rest = await client.list_lists(cursor=first.next_cursor, limit=4)
    assert rest.next_cursor is None
    lists = first.items + rest.items
    static = [lst for lst in SEED.lists if lst.kind == "static"]
    assert [lst.ref for lst in lists] == [ids.list_ref(lst.idx) for lst in static]
    assert all(lst.kind == "campaign" for lst in lists)
    assert [lst.size for lst in lists] == [len(lst.members) for lst in static]
    found = await client.list_lists(name_contains="do not delete")
    assert [lst.name for lst in found.items] == ["DO NOT DELETE FINAL v3"]
    got = await client.get_list(ids.list_ref(2))
    assert got.description and got.size == 250


async def test_list_members_pages_to_the_end(env: Env) -> None:
    _, client = env
    seen: list[str] = []
    cursor = None
    while True:
        page = await client.list_members(ids.list_ref(0), cursor=cursor, limit=250)
        seen.extend(p.ref for p in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids.person_ref(i) for i in SEED.lists[0].members)
    assert len(seen) == len(set(seen))
    with pytest.raises(NotFoundError):
        await client.list_members("salesforce:Campaign:7015e0001999999")


async def test_person_memberships_split_lists_and_campaigns(env: Env) -> None:
    _, client = env
    camp = SEED.campaigns[1]
    idx, status = camp.members[0]
    got = await client.person_memberships(ids.person_ref(idx))
    assert {lst.ref for lst in got.lists} == {
        ids.list_ref(lst.idx) for lst in SEED.lists if lst.kind == "static" and idx in lst.members
    }
    statuses = {c.campaign_ref: c.status for c in got.campaigns}
    assert statuses[ids.campaign_ref(1)] == status


async def test_campaigns_ladders_members_and_counts(env: Env) -> None:
    _, client = env
    page = await client.list_campaigns(limit=3)
    page2 = await client.list_campaigns(cursor=page.next_cursor, limit=3)
    camps = page.items + page2.items
    assert [c.ref for c in camps] == [ids.campaign_ref(c.idx) for c in SEED.campaigns]
    for got, seed in zip(camps, SEED.campaigns, strict=True):
        assert got.kind == "crm_campaign" and not got.triggerable
        # Emailed by a connected platform (Type Email or Webinar), to the campaign's members.
        assert got.sends_email == seed.sends_email
        assert got.audience_list_ref == (got.ref if seed.sends_email else None)
        assert [(s.name, s.step, s.success) for s in got.status_ladder] == sorted(
            seed.ladder, key=lambda s: s[1]
        )
        assert got.member_count == len(seed.members) and got.active == seed.active
    camp = await client.get_campaign(ids.campaign_ref(0))
    assert camp.channel == "Email"
    members = []
    cursor = None
    while True:
        mp = await client.campaign_members(ids.campaign_ref(0), cursor=cursor, limit=120)
        members.extend(mp.items)
        cursor = mp.next_cursor
        if cursor is None:
            break
    assert {(m.person_ref, m.status) for m in members} == {
        (ids.person_ref(i), s) for i, s in SEED.campaigns[0].members
    }
    assert all(m.success == (m.status == "Clicked") for m in members)
    counts = await client.campaigns.status_counts(ids.campaign_ref(0))
    assert counts == dict(Counter(s for _, s in SEED.campaigns[0].members))


async def test_activities_filters(env: Env) -> None:
    _, client = env
    act = SEED.activities[0]
    page = await client.get_activities(person_ref=ids.person_ref(act.person_idx), limit=100)
    assert {a.ref.rsplit(":", 1)[1] for a in page.items} == {
        ids.task_id(a.idx) for a in SEED.activities if a.person_idx == act.person_idx
    }
    opened = await client.get_activities(types=["email_opened"], limit=2000)
    assert len(opened.items) == sum(1 for a in SEED.activities if a.type == "email_opened")
    assert all(a.type == "email_opened" for a in opened.items)
    since = datetime(2026, 1, 1, tzinfo=UTC)
    until = datetime(2026, 3, 1, tzinfo=UTC)
    window = await client.get_activities(since=since, until=until, limit=2000)
    assert len(window.items) == sum(1 for a in SEED.activities if since <= a.occurred_at < until)
    times = [a.occurred_at for a in window.items]
    assert times == sorted(times)
    camp = await client.get_activities(campaign_ref=ids.campaign_ref(0), limit=2000)
    assert len(camp.items) == sum(1 for a in SEED.activities if a.campaign_idx == 0)


async def test_owners_and_budget(env: Env) -> None:
    emu, client = env
    owners = await client.list_owners()
    assert [(o.ref, o.active) for o in owners] == [
        (ids.owner_ref(o.idx), o.active) for o in SEED.owners
    ]
    budget = await client.api_budget()
    assert budget.daily_limit == 15_000
    assert budget.daily_used == emu.api_usage() and budget.daily_used >= 2
    assert client.session.api_usage is not None and client.session.api_usage[1] == 15_000


async def test_api_version_is_configurable(env: Env) -> None:
    emu, _ = env
    client = _client(emu, api_version="v60.0")
    await client.get_person(ids.person_ref(0))
    assert emu.core.requests[-1].path.startswith("/services/data/v60.0/sobjects/Lead/")
    await client.aclose()
    with pytest.raises(ValueError):
        _client(emu, api_version="v62.0/../..")

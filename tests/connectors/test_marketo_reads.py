"""Contract tests: MarketoClient reads against the Marketo emulator, expectations from the seed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from mopsgate.connectors.http import RateLimiter, RetryPolicy
from mopsgate.connectors.marketo.client import MarketoClient
from mopsgate.connectors.schema import MARKETO_LEAD
from mopsgate.crm.errors import InvalidRequest, NotFoundError, NotSupportedByVendor
from mopsgate.crm.records import Page, Person, PersonQuery
from mopsgate.sandbox.marketo import MarketoEmulator, ids, routes_leads, sandbox_client
from mopsgate.sandbox.seed import seed_data
from tests.support.clock import FakeClock

SEED = seed_data()


@pytest.fixture
def emu() -> MarketoEmulator:
    return MarketoEmulator(SEED)


@pytest.fixture
def client(emu: MarketoEmulator, fake_clock: FakeClock) -> MarketoClient:
    clock = fake_clock
    emu.set_rate_limit(100, 20.0, clock)
    return sandbox_client(
        emu,
        retry=RetryPolicy(sleep=clock.sleep, jitter=lambda: 0.5),
        limiter=RateLimiter(90, 20.0, 8, clock=clock, sleep=clock.sleep),
    )


async def drain(fetch: Callable[..., Awaitable[Page[Any]]], limit: int) -> tuple[list[Any], int]:
    items: list[Any] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await fetch(cursor=cursor, limit=limit)
        items.extend(page.items)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            return items, pages


# people -------------------------------------------------------------------------------------
async def test_get_person_maps_every_schema_field_and_consent(client: MarketoClient) -> None:
    for person in SEED.people[:60]:
        got = await client.get_person(ids.lead_ref(person.idx))
        assert got.ref == ids.lead_ref(person.idx)
        assert got.object == "lead"
        assert set(got.fields) == {s.name for s in MARKETO_LEAD}
        assert got.fields["email"] == person.email
        assert got.fields["externalSalesPersonId"] == ids.owner_field_value(person.owner_idx)
        assert got.fields["mktoLifecycleStage"] == person.lifecycle_stage
        assert got.consent.status == person.consent_status


async def test_get_person_not_found_and_bad_refs(
    client: MarketoClient, emu: MarketoEmulator
) -> None:
    with pytest.raises(NotFoundError):
        await client.get_person("marketo:lead:99")
    before = len(emu.core.requests)
    for bad in (
        "marketo:lead:1/../2",
        "marketo:lead:abc",
        "hubspot:contact:1",
        "marketo:list:1001",
        "nonsense",
    ):
        with pytest.raises(InvalidRequest):
            await client.get_person(bad)
    assert len(emu.core.requests) == before  # refused before any HTTP


async def test_get_people_batches_300_ids_per_call(
    client: MarketoClient, emu: MarketoEmulator
) -> None:
    refs = [ids.lead_ref(i) for i in range(650)] + ["marketo:lead:7", "hubspot:contact:1"]
    emu.core.reset_log()
    got = await client.get_people(refs)
    assert set(got) == {ids.lead_ref(i) for i in range(650)}
    reads = emu.requests_to("/rest/v1/leads.json", "GET")
    assert len(reads) == 3


async def test_search_by_email_is_case_insensitive(client: MarketoClient) -> None:
    dup = next(p for p in SEED.people if p.duplicate_of is not None and p.email.isupper())
    assert dup.duplicate_of is not None
    orig = SEED.people[dup.duplicate_of]
    page = await client.search_people(PersonQuery(email=orig.email.upper()))
    assert {p.ref for p in page.items} >= {ids.lead_ref(orig.idx), ids.lead_ref(dup.idx)}


async def test_search_pages_to_the_end_every_record_once(client: MarketoClient) -> None:
    expected = {ids.lead_ref(p.idx) for p in SEED.people if p.company == "Globex"}

    async def fetch(cursor: str | None, limit: int) -> Page[Person]:
        return await client.search_people(PersonQuery(company="Globex"), cursor=cursor, limit=limit)

    items, pages = await drain(fetch, 37)
    refs = [p.ref for p in items]
    assert len(refs) == len(set(refs)) == len(expected)
    assert set(refs) == expected
    assert pages >= 3


async def test_search_list_scope_with_client_side_consent_filter(client: MarketoClient) -> None:
    lst = SEED.lists[0]
    expected = {
        ids.lead_ref(i) for i in lst.members if SEED.people[i].consent_status == "opted_out"
    }
    query = PersonQuery(list_ref=ids.list_ref(0), consent="opted_out")

    async def fetch(cursor: str | None, limit: int) -> Page[Person]:
        return await client.search_people(query, cursor=cursor, limit=limit)

    items, _ = await drain(fetch, 100)
    assert {p.ref for p in items} == expected


async def test_search_by_name_owner_and_stage(client: MarketoClient) -> None:
    smith = {ids.lead_ref(p.idx) for p in SEED.people if p.last_name == "Smith"}
    items, _ = await drain(
        lambda cursor, limit: client.search_people(
            PersonQuery(name="smith"), cursor=cursor, limit=limit
        ),
        200,
    )
    assert {p.ref for p in items} == smith
    query = PersonQuery(owner_id=ids.owner_ref(3), lifecycle_stage="mql")
    expected = {
        ids.lead_ref(p.idx) for p in SEED.people if p.owner_idx == 3 and p.lifecycle_stage == "mql"
    }
    items, _ = await drain(
        lambda cursor, limit: client.search_people(query, cursor=cursor, limit=limit), 300
    )
    assert {p.ref for p in items} == expected


async def test_search_without_exact_key_is_not_supported(client: MarketoClient) -> None:
    with pytest.raises(NotSupportedByVendor) as err:
        await client.search_people(PersonQuery(consent="unknown"))
    assert "exact keys" in str(err.value)
    with pytest.raises(NotSupportedByVendor):
        await client.search_people(PersonQuery())


async def test_search_too_many_matches_surfaces_vendor_message(
    client: MarketoClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes_leads, "MAX_FILTER_MATCHES", 10)
    with pytest.raises(InvalidRequest) as err:
        await client.search_people(PersonQuery(company="Globex"))
    assert err.value.code == "1003"
    assert err.value.message == "Too many results match the filter"


async def test_search_input_is_encoded_not_spliced(
    client: MarketoClient, emu: MarketoEmulator
) -> None:
    page = await client.search_people(PersonQuery(email="x@y.test&filterType=id"))
    assert page.items == []
    assert "filterType=email" in emu.core.requests[-1].query


async def test_describe_fields_flags_pii_consent_read_only(client: MarketoClient) -> None:
    fields = {f.name: f for f in await client.describe_fields("lead")}
    for spec in MARKETO_LEAD:
        got = fields[spec.name]
        assert (got.pii, got.consent, got.read_only, got.lifecycle) == (
            spec.pii,
            spec.consent,
            spec.read_only,
            spec.lifecycle,
        )
    assert fields["mktoLifecycleStage"].picklist
    with pytest.raises(InvalidRequest):
        await client.describe_fields("contact")


# lists --------------------------------------------------------------------------------------
async def test_list_lists_pages_static_then_smart(client: MarketoClient) -> None:
    items, pages = await drain(
        lambda cursor, limit: client.list_lists(cursor=cursor, limit=limit), 3
    )
    assert [lst.ref for lst in items] == [ids.list_ref(i) for i in (0, 1, 2, 3, 5, 6, 4)]
    smart = items[-1]
    assert (smart.kind, smart.writable) == ("dynamic", False)
    assert pages >= 3
    page = await client.list_lists(name_contains="do not delete")
    assert [lst.name for lst in page.items] == ["DO NOT DELETE FINAL v3"]


async def test_get_list_static_smart_and_missing(client: MarketoClient) -> None:
    assert (await client.get_list(ids.list_ref(2))).name == "DO NOT DELETE FINAL v3"
    smart = await client.get_list(ids.list_ref(4))
    assert smart.kind == "dynamic" and not smart.writable
    with pytest.raises(NotFoundError):
        await client.get_list("marketo:list:999")


async def test_list_members_pages_to_the_end(client: MarketoClient) -> None:
    expected = {ids.lead_ref(i) for i in SEED.lists[1].members}
    items, pages = await drain(
        lambda cursor, limit: client.list_members(ids.list_ref(1), cursor=cursor, limit=limit), 150
    )
    refs = [p.ref for p in items]
    assert len(refs) == len(set(refs)) and set(refs) == expected
    assert pages == 3


async def test_smart_list_members_are_not_readable(client: MarketoClient) -> None:
    with pytest.raises(NotSupportedByVendor) as err:
        await client.list_members(ids.list_ref(4))
    assert "Bulk Lead Extract" in str(err.value)


async def test_person_memberships_match_seed(client: MarketoClient) -> None:
    idx = SEED.campaigns[1].members[0][0]
    got = await client.person_memberships(ids.lead_ref(idx))
    assert {lst.ref for lst in got.lists} == {
        ids.list_ref(lst.idx) for lst in SEED.lists if lst.kind == "static" and idx in lst.members
    }
    expected = {
        (ids.program_ref(c.idx), st) for c in SEED.campaigns for p, st in c.members if p == idx
    }
    assert {(m.campaign_ref, m.status) for m in got.campaigns} == expected


# campaigns ----------------------------------------------------------------------------------
async def test_list_campaigns_programs_then_smart_campaigns(client: MarketoClient) -> None:
    items, _ = await drain(
        lambda cursor, limit: client.list_campaigns(cursor=cursor, limit=limit), 4
    )
    n = len(SEED.campaigns)
    assert [c.ref for c in items] == [ids.program_ref(i) for i in range(n)] + [
        ids.smart_campaign_ref(i) for i in range(n)
    ]
    for camp in SEED.campaigns:
        prog, smart = items[camp.idx], items[n + camp.idx]
        assert [(s.name, s.step, s.success) for s in prog.status_ladder] == sorted(
            camp.ladder, key=lambda s: s[1]
        )
        assert prog.sends_email == camp.sends_email
        assert (smart.triggerable, smart.schedulable) == (
            camp.triggerable and camp.active,
            camp.schedulable,
        )


async def test_get_campaign_program_and_smart_campaign(client: MarketoClient) -> None:
    for camp in SEED.campaigns:
        smart = await client.get_campaign(ids.smart_campaign_ref(camp.idx))
        assert camp.audience_list is not None
        assert smart.audience_list_ref == ids.list_ref(camp.audience_list)
        assert smart.active == camp.active
        prog = await client.get_campaign(ids.program_ref(camp.idx))
        assert prog.kind == "program" and prog.name == camp.name
    with pytest.raises(NotFoundError):
        await client.get_campaign("marketo:program:9999")


async def test_campaign_members_page_program_members(client: MarketoClient) -> None:
    camp = SEED.campaigns[0]
    items, pages = await drain(
        lambda cursor, limit: client.campaign_members(
            ids.program_ref(0), cursor=cursor, limit=limit
        ),
        120,
    )
    assert {(m.person_ref, m.status) for m in items} == {
        (ids.lead_ref(p), st) for p, st in camp.members
    }
    assert len(items) == len(camp.members) and pages == 3
    with pytest.raises(NotSupportedByVendor):
        await client.campaign_members(ids.smart_campaign_ref(0))


# activities, owners, budget -----------------------------------------------------------------
def _seed_activities(
    person_idx: int | None = None,
    campaign_idx: int | None = None,
    types: set[str] | None = None,
) -> set[str]:
    return {
        ids.activity_ref(a.idx)
        for a in SEED.activities
        if (person_idx is None or a.person_idx == person_idx)
        and (campaign_idx is None or a.campaign_idx == campaign_idx)
        and (types is None or a.type in types)
    }


async def test_activities_for_a_person(client: MarketoClient) -> None:
    person = max(range(50), key=lambda i: len(_seed_activities(person_idx=i)))
    page = await client.get_activities(person_ref=ids.lead_ref(person), limit=300)
    assert {a.ref for a in page.items} == _seed_activities(person_idx=person)


async def test_activities_page_by_type_and_campaign(client: MarketoClient) -> None:
    items, pages = await drain(
        lambda cursor, limit: client.get_activities(
            types=("email_opened", "email_clicked"),
            campaign_ref=ids.smart_campaign_ref(0),
            cursor=cursor,
            limit=limit,
        ),
        40,
    )
    refs = [a.ref for a in items]
    assert len(refs) == len(set(refs))
    assert set(refs) == _seed_activities(campaign_idx=0, types={"email_opened", "email_clicked"})
    assert pages > 1
    assert all(a.campaign_ref == ids.smart_campaign_ref(0) for a in items)


async def test_activities_since_until_window(client: MarketoClient) -> None:
    ordered = sorted(SEED.activities, key=lambda a: a.occurred_at)
    since, until = ordered[100].occurred_at, ordered[300].occurred_at
    items, _ = await drain(
        lambda cursor, limit: client.get_activities(
            since=since, until=until - timedelta(seconds=1), cursor=cursor, limit=limit
        ),
        300,
    )
    assert all(since <= a.occurred_at < until for a in items)
    assert len(items) == sum(1 for a in SEED.activities if since <= a.occurred_at < until)


async def test_list_owners_and_api_budget(client: MarketoClient) -> None:
    owners = await client.list_owners()
    assert [(o.ref, o.active) for o in owners] == [
        (ids.owner_ref(o.idx), o.active) for o in SEED.owners
    ]
    budget = await client.api_budget()
    assert budget.limit_in_window == 100 and budget.daily_limit == 50_000
    assert budget.daily_used == budget.calls_made_by_mopsgate - 1  # identity calls are free


async def test_two_emulators_from_the_seed_are_identical() -> None:
    a, b = MarketoEmulator(SEED), MarketoEmulator(SEED)
    assert all(
        a.person_fields(ids.lead_id(p.idx)) == b.person_fields(ids.lead_id(p.idx))
        for p in SEED.people
    )
    assert a.activities == b.activities
    assert all(a.list_member_ids(x.id) == b.list_member_ids(x.id) for x in a.state.static_lists())
    assert a.program_member_ids(2001) == b.program_member_ids(2001)


def test_client_implements_the_connector_protocol(emu: MarketoEmulator) -> None:
    from mopsgate.crm.connector import Connector

    assert isinstance(sandbox_client(emu), Connector)

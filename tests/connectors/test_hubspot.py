"""Contract tests of the HubSpot client against the HubSpot emulator: reads."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from mopsgate.connectors.http import RateLimiter, RetryPolicy
from mopsgate.connectors.hubspot.client import HubSpotClient
from mopsgate.connectors.hubspot.paths import ApiFamily
from mopsgate.crm.connector import Connector
from mopsgate.crm.errors import InvalidRequest, NotFoundError
from mopsgate.crm.records import ConsentStatus, Page, PersonQuery
from mopsgate.sandbox.hubspot import HubSpotEmulator, ids, sandbox_client
from mopsgate.sandbox.seed import SeedActivity, seed_data
from tests.support.clock import FakeClock

SEED = seed_data()
T = TypeVar("T")
EmuClient = tuple[HubSpotEmulator, HubSpotClient]


def make(
    emu: HubSpotEmulator | None = None, clock: FakeClock | None = None, **kw: Any
) -> EmuClient:
    clock = clock or FakeClock()
    emu = emu or HubSpotEmulator(clock=clock)
    kw.setdefault("retry", RetryPolicy(sleep=clock.sleep, jitter=lambda: 0.5))
    kw.setdefault("limiter", RateLimiter(90, 10.0, clock=clock, sleep=clock.sleep))
    kw.setdefault("search_limiter", RateLimiter(4, 1.0, clock=clock, sleep=clock.sleep))
    return emu, sandbox_client(emu, **kw)


@pytest.fixture
def emu_client() -> EmuClient:
    return make()


async def all_pages(fetch: Callable[..., Awaitable[Page[T]]]) -> tuple[list[T], int]:
    items: list[T] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = await fetch(cursor=cursor)
        items += page.items
        pages += 1
        if page.next_cursor is None:
            return items, pages
        cursor = page.next_cursor


def test_id_scheme() -> None:
    assert ids.person_id(0) == "1001" and ids.person_ref(5) == "hubspot:contact:1006"
    assert ids.list_ref(0) == "hubspot:list:1" and ids.owner_ref(3) == "hubspot:owner:70004"
    assert ids.campaign_id(2) == ids.campaign_id(2)
    assert ids.GUID.match(ids.campaign_id(0))
    assert ids.campaign_ref(1).startswith("hubspot:campaign:")


def test_emulators_from_the_seed_are_identical() -> None:
    a, b = HubSpotEmulator(), HubSpotEmulator()
    assert all(a.person_fields(c.id) == b.person_fields(c.id) for c in a.state.contacts())
    assert {v.id: v.members for v in a.state.lists()} == {v.id: v.members for v in b.state.lists()}
    assert [c.members for c in a.state.campaigns()] == [c.members for c in b.state.campaigns()]
    assert [(e.id, e.type, e.recipient) for e in a.state.events()] == [
        (e.id, e.type, e.recipient) for e in b.state.events()
    ]


async def test_client_implements_protocol(emu_client: EmuClient) -> None:
    _, client = emu_client
    assert isinstance(client, Connector)
    assert client.name == "hubspot" and client.capabilities.update_batch == 100
    assert client.person_objects == ("contact",)


@pytest.mark.parametrize("family", ["v3", "2026-03"])
async def test_get_person_maps_seed(family: ApiFamily) -> None:
    emu, client = make(api_family=family)
    for p in SEED.people[:60]:
        person = await client.get_person(ids.person_ref(p.idx))
        assert person.fields["email"] == p.email
        assert person.fields["hubspotscore"] == p.score
        assert person.fields["hs_email_optout"] is p.email_opt_out
        assert person.fields["lifecyclestage"] == ids.lifecycle_to_hubspot(p.lifecycle_stage)
        assert person.fields["hubspot_owner_id"] == ids.owner_id(p.owner_idx)
        assert person.consent.status == p.consent_status
    prefix = "/crm/v3/objects/contacts/" if family == "v3" else "/crm/objects/2026-03/contacts/"
    assert all(r.path.startswith(prefix) for r in emu.core.requests)


async def test_get_person_errors(emu_client: EmuClient) -> None:
    emu, client = emu_client
    with pytest.raises(NotFoundError) as err:
        await client.get_person("hubspot:contact:999999")
    assert "not found" in err.value.message
    for bad in ("hubspot:contact:../../owners", "marketo:lead:1001", "hubspot:list:1", "x"):
        with pytest.raises(InvalidRequest):
            await client.get_person(bad)
    assert len(emu.core.requests) == 1  # malformed refs never reach the wire


async def test_get_people_batches(emu_client: EmuClient) -> None:
    emu, client = emu_client
    refs = [ids.person_ref(i) for i in range(250)] + ["hubspot:contact:99", "nope"]
    people = await client.get_people(refs)
    assert set(people) == set(refs[:250])
    assert people[refs[7]].fields["email"] == SEED.people[7].email
    assert len(emu.requests_to("/batch/read")) == math.ceil(250 / 100)


async def test_search_pages_to_the_end_exactly_once(emu_client: EmuClient) -> None:
    _, client = emu_client
    found, pages = await all_pages(
        lambda **kw: client.search_people(PersonQuery(lifecycle_stage="mql"), limit=50, **kw)
    )
    expected = [ids.person_ref(p.idx) for p in SEED.people if p.lifecycle_stage == "mql"]
    assert sorted(p.ref for p in found) == sorted(expected)
    assert len({p.ref for p in found}) == len(found)
    assert pages == math.ceil(len(expected) / 50)


@pytest.mark.parametrize("status", ["opted_out", "suppressed", "unknown", "subscribed"])
async def test_search_by_consent(emu_client: EmuClient, status: ConsentStatus) -> None:
    _, client = emu_client
    found, _ = await all_pages(
        lambda **kw: client.search_people(
            PersonQuery(consent=status, company="Acme"), limit=200, **kw
        )
    )
    expected = {
        ids.person_ref(p.idx)
        for p in SEED.people
        if p.consent_status == status and p.company == "Acme Corp"
    }
    assert {p.ref for p in found} == expected and expected


async def test_search_email_name_owner(emu_client: EmuClient) -> None:
    _, client = emu_client
    dup = next(
        p
        for p in SEED.people
        if p.duplicate_of is not None and "@" in p.email and p.email.upper() == p.email
    )
    orig = SEED.people[dup.duplicate_of or 0]
    page = await client.search_people(PersonQuery(email=orig.email.lower()))
    assert {ids.person_ref(dup.idx), ids.person_ref(orig.idx)} <= {p.ref for p in page.items}
    target = SEED.people[10]
    page = await client.search_people(
        PersonQuery(
            name=f"{target.first_name} {target.last_name}", owner_id=ids.owner_ref(target.owner_idx)
        ),
        limit=200,
    )
    assert ids.person_ref(10) in {p.ref for p in page.items}
    assert all(p.fields["hubspot_owner_id"] == ids.owner_id(target.owner_idx) for p in page.items)


async def test_search_within_list(emu_client: EmuClient) -> None:
    _, client = emu_client
    lst = SEED.lists[1]
    found, _ = await all_pages(
        lambda **kw: client.search_people(
            PersonQuery(list_ref=ids.list_ref(1), consent="opted_out"), limit=100, **kw
        )
    )
    expected = {ids.person_ref(i) for i in lst.members if SEED.people[i].email_opt_out}
    assert {p.ref for p in found} == expected


async def test_search_past_the_10k_ceiling_switches_to_keyset() -> None:
    clock = FakeClock()
    emu = HubSpotEmulator(seed_data(10_300), clock=clock)
    _, client = make(emu, clock)
    found, pages = await all_pages(
        lambda **kw: client.search_people(PersonQuery(), limit=200, **kw)
    )
    assert len(found) == 10_300 and len({p.ref for p in found}) == 10_300
    assert pages == math.ceil(10_300 / 200)
    assert all(r.status == 200 for r in emu.core.requests)
    assert emu.search_window.violations == 0


async def test_search_cursor_past_ceiling_is_vendor_400(emu_client: EmuClient) -> None:
    _, client = emu_client
    with pytest.raises(InvalidRequest) as err:
        await client.search_people(PersonQuery(), cursor="10000")
    assert "10000" in err.value.message and err.value.code == "VALIDATION_ERROR"


async def test_describe_fields(emu_client: EmuClient) -> None:
    _, client = emu_client
    fields = {f.name: f for f in await client.describe_fields("contact")}
    assert fields["email"].pii and not fields["email"].read_only
    assert fields["hs_email_optout"].read_only and fields["hs_email_optout"].consent
    assert (
        fields["lifecyclestage"].lifecycle
        and "marketingqualifiedlead" in fields["lifecyclestage"].picklist
    )
    with pytest.raises(InvalidRequest):
        await client.describe_fields("Lead")


async def test_lists_paging_and_kinds(emu_client: EmuClient) -> None:
    _, client = emu_client
    lists, pages = await all_pages(lambda **kw: client.list_lists(limit=3, **kw))
    assert [x.name for x in lists] == [s.name for s in SEED.lists] and pages == 3
    dynamic = next(x for x in lists if x.name == "All MQLs (smart)")
    assert dynamic.kind == "dynamic" and not dynamic.writable
    hits = (await client.list_lists(name_contains="do not delete")).items
    assert [x.ref for x in hits] == [ids.list_ref(2)]
    got = await client.get_list(ids.list_ref(0))
    assert got.size == len(SEED.lists[0].members) and got.kind == "static"


async def test_list_members_page_to_end(emu_client: EmuClient) -> None:
    emu, client = emu_client
    members, pages = await all_pages(
        lambda **kw: client.list_members(ids.list_ref(0), limit=250, **kw)
    )
    assert [p.ref for p in members] == [ids.person_ref(i) for i in SEED.lists[0].members]
    assert pages == math.ceil(900 / 250)
    assert len(emu.requests_to("/batch/read")) == sum(
        math.ceil(min(250, 900 - k) / 100) for k in range(0, 900, 250)
    )


async def test_person_memberships(emu_client: EmuClient) -> None:
    _, client = emu_client
    idx = SEED.lists[2].members[0]
    got = await client.person_memberships(ids.person_ref(idx))
    expected = [ids.list_ref(s.idx) for s in SEED.lists if idx in s.members]
    assert [x.ref for x in got.lists] == expected and got.campaigns == []


async def test_campaigns(emu_client: EmuClient) -> None:
    _, client = emu_client
    campaigns, pages = await all_pages(lambda **kw: client.list_campaigns(limit=2, **kw))
    assert [c.name for c in campaigns] == [c.name for c in SEED.campaigns] and pages == 3
    assert all(c.kind == "marketing_campaign" and c.status_ladder == [] for c in campaigns)
    seed = SEED.campaigns[1]
    camp = await client.get_campaign(ids.campaign_ref(1))
    assert camp.member_count == len(seed.members) and camp.sends_email == seed.sends_email
    assert camp.audience_list_ref == ids.list_ref(seed.audience_list or 0)
    assert not camp.triggerable and not camp.schedulable
    legacy = await client.get_campaign(ids.campaign_ref(4))
    assert legacy.active is False
    with pytest.raises(InvalidRequest):
        await client.get_campaign("hubspot:campaign:12345")


async def test_campaign_members_every_member_once(emu_client: EmuClient) -> None:
    _, client = emu_client
    seed = SEED.campaigns[0]
    members, _ = await all_pages(
        lambda **kw: client.campaign_members(ids.campaign_ref(0), limit=40, **kw)
    )
    got = {m.person_ref: m.status for m in members}
    assert len(got) == len(members) == len(seed.members)
    assert got == {ids.person_ref(i): ids.contact_type_for_status(s) for i, s in seed.members}


def _email_activities(person_idxs: set[int] | None = None) -> list[SeedActivity]:
    kinds = {
        "email_sent",
        "email_delivered",
        "email_opened",
        "email_clicked",
        "email_bounced",
        "unsubscribed",
    }
    return [
        a
        for a in SEED.activities
        if a.type in kinds and (person_idxs is None or a.person_idx in person_idxs)
    ]


async def test_activities_for_person(emu_client: EmuClient) -> None:
    _, client = emu_client
    person = Counter(a.person_idx for a in _email_activities()).most_common(1)[0][0]
    ref = ids.person_ref(person)
    acts, _ = await all_pages(lambda **kw: client.get_activities(person_ref=ref, limit=2, **kw))
    emails = {SEED.people[person].email.lower()}
    same = {p.idx for p in SEED.people if p.email.lower() in emails}
    expected = sorted(a.type for a in _email_activities(same))
    assert sorted(a.type for a in acts) == expected
    assert all(a.person_ref == ref for a in acts)
    opened = (await client.get_activities(person_ref=ref, types=["email_opened"])).items
    assert all(a.type == "email_opened" for a in opened)
    assert (await client.get_activities(types=["form_filled"])).items == []


async def test_activities_portal_wide_and_by_campaign(emu_client: EmuClient) -> None:
    _, client = emu_client
    acts, pages = await all_pages(lambda **kw: client.get_activities(limit=500, **kw))
    assert len(acts) == len(_email_activities()) and pages == math.ceil(len(acts) / 500)
    assert len({a.ref for a in acts}) == len(acts)
    assert all(
        a.person_ref.startswith("hubspot:contact:1")
        or a.person_ref.startswith("hubspot:contact:2")
        or a.person_ref.startswith("hubspot:contact:3")
        for a in acts
    )
    by_campaign, _ = await all_pages(
        lambda **kw: client.get_activities(campaign_ref=ids.campaign_ref(2), limit=50, **kw)
    )
    expected = [a for a in _email_activities() if a.campaign_idx == 2]
    assert len(by_campaign) == len(expected)
    assert all(a.campaign_ref == ids.campaign_ref(2) for a in by_campaign)
    cut = sorted(a.occurred_at for a in acts)[len(acts) // 2]
    later, _ = await all_pages(lambda **kw: client.get_activities(since=cut, limit=1000, **kw))
    assert len(later) == sum(1 for a in acts if a.occurred_at >= cut)


async def test_owners_and_budget(emu_client: EmuClient) -> None:
    _, client = emu_client
    owners = {o.ref: o for o in await client.list_owners()}
    assert set(owners) == {ids.owner_ref(o.idx) for o in SEED.owners}
    assert all(owners[ids.owner_ref(o.idx)].active == o.active for o in SEED.owners)
    budget = await client.api_budget()
    assert budget.limit_in_window == 100 and budget.daily_limit == 250_000
    assert budget.used_in_window == client.http.calls
    assert budget.calls_made_by_mopsgate == client.http.calls

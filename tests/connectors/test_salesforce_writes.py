"""Contract tests of the Salesforce client's writes (sObject Collections) against the emulator."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from mopsgate.connectors.http import RateLimiter, RetryPolicy
from mopsgate.connectors.salesforce.client import SalesforceClient
from mopsgate.crm.errors import (
    InvalidRequest,
    NotFoundError,
    NotSupportedByVendor,
    ServerError,
)
from mopsgate.crm.records import PersonUpdate
from mopsgate.sandbox.emulator_base import LoggedRequest
from mopsgate.sandbox.salesforce import ids
from mopsgate.sandbox.salesforce.connect import sandbox_client
from mopsgate.sandbox.salesforce.emulator import SalesforceEmulator
from mopsgate.sandbox.seed import seed_data
from tests.support.clock import FakeClock

SEED = seed_data()
Env = tuple[SalesforceEmulator, SalesforceClient, list[float]]
COLLECTIONS = "/services/data/v62.0/composite/sobjects"


@pytest.fixture
async def env(fake_clock: FakeClock) -> AsyncIterator[Env]:
    emu = SalesforceEmulator(page_size=200)
    client = sandbox_client(
        emu,
        retry=RetryPolicy(sleep=fake_clock.sleep, jitter=lambda: 0.5),
        limiter=RateLimiter(10_000, 1.0, 50),
    )
    yield emu, client, fake_clock.slept
    await client.aclose()


def _calls(emu: SalesforceEmulator, method: str) -> list[LoggedRequest]:
    return [r for r in emu.core.requests if r.method == method and r.path == COLLECTIONS]


def _not_in(campaign_members: set[str], n: int) -> list[int]:
    return [i for i in range(len(SEED.people)) if ids.person_id(i) not in campaign_members][:n]


async def test_update_people_batches_and_writes(env: Env) -> None:
    emu, client, _ = env
    updates = [PersonUpdate(ref=ids.person_ref(i), fields={"Title": f"T{i}"}) for i in range(450)]
    results = await client.update_people(updates)
    assert [r.ref for r in results] == [u.ref for u in updates]
    assert all(r.ok for r in results)
    assert len(_calls(emu, "PATCH")) == math.ceil(450 / 200)
    assert emu.person_fields(ids.person_id(7))["Title"] == "T7"
    assert emu.tasks_for(ids.person_id(7))[-1]["Subject"] == "Field Changed"
    person = await client.get_person(ids.person_ref(7))
    assert person.fields["Title"] == "T7"


async def test_update_people_reports_per_record_failures(env: Env) -> None:
    emu, client, _ = env
    emu.core.faults.fail_record_ids = {ids.person_id(1)}
    updates = [
        PersonUpdate(ref=ids.person_ref(0), fields={"Title": "ok"}),
        PersonUpdate(ref=ids.person_ref(1), fields={"Title": "locked"}),
        PersonUpdate(ref=ids.person_ref(2), fields={"Status": "Bogus"}),
        PersonUpdate(ref=ids.person_ref(3), fields={"Password__c": "x"}),
        PersonUpdate(ref=ids.person_ref(5), fields={"CreatedDate": "2020-01-01"}),
        PersonUpdate(ref=ids.person_ref(6), fields={"HasOptedOutOfEmail": False}),
        PersonUpdate(ref="salesforce:Lead:nope", fields={"Title": "x"}),
    ]
    results = await client.update_people(updates)
    assert [r.ok for r in results] == [True, False, False, False, False, False, False]
    assert [r.code for r in results[1:]] == [
        "UNABLE_TO_LOCK_ROW",
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "INVALID_FIELD",
        "READ_ONLY_FIELD",
        "CONSENT_FLOOR",
        "INVALID_REF",
    ]
    assert "restricted picklist" in (results[2].message or "")
    assert emu.person_fields(ids.person_id(1))["Title"] == SEED.people[1].title
    assert len(_calls(emu, "PATCH")) == 1


async def test_opt_out_sets_the_flag_and_logs_an_unsubscribe(env: Env) -> None:
    emu, client, _ = env
    idx = next(p.idx for p in SEED.people if p.consent_status == "subscribed")
    results = await client.opt_out([ids.person_ref(idx)])
    assert results[0].ok
    assert emu.person_fields(ids.person_id(idx))["HasOptedOutOfEmail"] is True
    assert (await client.get_person(ids.person_ref(idx))).consent.status == "opted_out"
    assert emu.tasks_for(ids.person_id(idx))[-1]["Subject"] == "Unsubscribed"


async def test_add_to_list_batches_and_treats_duplicates_as_no_op(env: Env) -> None:
    emu, client, _ = env
    cid = ids.list_id(0)
    before = emu.list_member_ids(cid)
    fresh = _not_in(before, 250)
    existing = SEED.lists[0].members[0]
    refs = [ids.person_ref(i) for i in fresh] + [ids.person_ref(existing)]
    results = await client.add_to_list(ids.list_ref(0), refs)
    assert all(r.ok for r in results)
    assert results[-1].code == "already_member" and "already a member" in (
        results[-1].message or ""
    )
    assert len(_calls(emu, "POST")) == math.ceil(251 / 200)
    assert emu.list_member_ids(cid) == before | {ids.person_id(i) for i in fresh}
    assert emu.campaign_member_status(cid, ids.person_id(fresh[0])) == "Member"
    assert (await client.get_list(ids.list_ref(0))).size == len(before) + 250


async def test_remove_from_list_deletes_member_rows(env: Env) -> None:
    emu, client, _ = env
    cid = ids.list_id(1)
    members = list(SEED.lists[1].members[:210])
    outsider = _not_in(emu.list_member_ids(cid), 1)[0]
    refs = [ids.person_ref(i) for i in members] + [ids.person_ref(outsider)]
    results = await client.remove_from_list(ids.list_ref(1), refs)
    assert all(r.ok for r in results)
    assert results[-1].code == "not_member"
    assert len(_calls(emu, "DELETE")) == math.ceil(210 / 200)
    assert not emu.list_member_ids(cid) & {ids.person_id(i) for i in members}
    again = await client.remove_from_list(ids.list_ref(1), refs[:1])
    assert again[0].ok and again[0].code == "not_member"


async def test_set_campaign_status_follows_the_ladder(env: Env) -> None:
    emu, client, _ = env
    camp = SEED.campaigns[1]
    cid = ids.campaign_id(1)
    member = next(i for i, s in camp.members if s != "Attended")
    outsider = _not_in(emu.list_member_ids(cid), 1)[0]
    results = await client.set_campaign_status(
        ids.campaign_ref(1), [ids.person_ref(member), ids.person_ref(outsider)], "Attended"
    )
    assert results[0].ok and not results[1].ok and results[1].code == "NOT_A_MEMBER"
    assert emu.campaign_member_status(cid, ids.person_id(member)) == "Attended"
    page = await client.campaign_members(ids.campaign_ref(1), limit=2000)
    assert next(m for m in page.items if m.person_ref == ids.person_ref(member)).success
    bad = await client.set_campaign_status(ids.campaign_ref(1), [ids.person_ref(member)], "Clicked")
    assert not bad[0].ok and bad[0].code == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert emu.campaign_member_status(cid, ids.person_id(member)) == "Attended"


async def test_delete_people_removes_records_and_memberships(env: Env) -> None:
    emu, client, _ = env
    idx = SEED.lists[0].members[3]
    ref = ids.person_ref(idx)
    results = await client.delete_people([ref, ids.person_ref(4)])
    assert all(r.ok for r in results)
    assert not emu.exists(ids.person_id(idx))
    assert ids.person_id(idx) not in emu.list_member_ids(ids.list_id(0))
    with pytest.raises(NotFoundError) as exc:
        await client.get_person(ref)
    assert exc.value.code == "ENTITY_IS_DELETED"
    again = await client.delete_people([ref])
    assert again[0].ok and again[0].code == "already_deleted"


async def test_sends_are_not_supported(env: Env) -> None:
    _, client, _ = env
    with pytest.raises(NotSupportedByVendor) as exc:
        await client.trigger_campaign(ids.campaign_ref(0), [ids.person_ref(0)], {})
    assert "do not send email" in str(exc.value)
    assert exc.value.operation == "trigger_campaign"
    with pytest.raises(NotSupportedByVendor) as exc:
        await client.schedule_campaign(ids.campaign_ref(0), datetime.now(UTC), {})
    assert exc.value.operation == "schedule_campaign"


async def test_bad_list_ref_is_invalid_request(env: Env) -> None:
    emu, client, _ = env
    with pytest.raises(InvalidRequest):
        await client.add_to_list("salesforce:Lead:00Q5e0000000001", [ids.person_ref(0)])
    assert emu.core.requests == []


async def test_server_error_on_create_is_not_retried(env: Env) -> None:
    emu, client, delays = env
    emu.core.faults.server_error_next = 1
    with pytest.raises(ServerError) as exc:
        await client.add_to_list(ids.list_ref(5), [ids.person_ref(0)])
    assert exc.value.code == "SERVER_UNAVAILABLE"
    assert len(_calls(emu, "POST")) == 1 and delays == []


async def test_server_error_on_update_is_retried(env: Env) -> None:
    emu, client, delays = env
    emu.core.faults.server_error_next = 1
    results = await client.update_people(
        [PersonUpdate(ref=ids.person_ref(0), fields={"Title": "again"})]
    )
    assert results[0].ok and len(delays) == 1
    assert [r.status for r in _calls(emu, "PATCH")] == [503, 200]


async def test_failure_after_first_chunk_is_reported_per_record(env: Env) -> None:
    emu, client, _ = env
    emu.core.faults.fail_after_writes = 1
    updates = [PersonUpdate(ref=ids.person_ref(i), fields={"Title": "x"}) for i in range(450)]
    results = await client.update_people(updates)
    assert all(r.ok for r in results[:200])
    assert all(not r.ok and r.code == "UNKNOWN_EXCEPTION" for r in results[200:])
    assert "not applied" in (results[300].message or "")
    assert emu.person_fields(ids.person_id(300))["Title"] == SEED.people[300].title
    with pytest.raises(ServerError):  # nothing written yet: the typed error is raised
        await client.update_people(updates[:5])

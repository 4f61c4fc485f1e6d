"""Contract tests: MarketoClient writes against the emulator (batching, per-record results)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mopsgate.connectors.http import RateLimiter, RetryPolicy
from mopsgate.connectors.marketo.client import MarketoClient
from mopsgate.crm.errors import (
    InvalidRequest,
    NotFoundError,
    NotSupportedByVendor,
    ServerError,
)
from mopsgate.crm.records import PersonUpdate
from mopsgate.sandbox.marketo import MarketoEmulator, ids, sandbox_client
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


def writes(emu: MarketoEmulator, suffix: str) -> list[Any]:
    return [r for r in emu.core.write_requests if r.path.endswith(suffix)]


async def test_update_people_batches_of_300(client: MarketoClient, emu: MarketoEmulator) -> None:
    n = 650
    updates = [
        PersonUpdate(ref=ids.lead_ref(i), fields={"leadScore": 7, "title": "CMO"}) for i in range(n)
    ]
    results = await client.update_people(updates)
    assert [r.ref for r in results] == [u.ref for u in updates]
    assert all(r.ok for r in results)
    assert len(writes(emu, "/rest/v1/leads.json")) == math.ceil(n / 300)
    assert emu.person_fields(ids.lead_id(5))["leadScore"] == 7
    assert any(a["activityTypeId"] == 22 and a["leadId"] == ids.lead_id(5) for a in emu.activities)


async def test_update_people_reports_per_record_failures(
    client: MarketoClient, emu: MarketoEmulator
) -> None:
    emu.core.faults.fail_record_ids = {str(ids.lead_id(2))}
    updates = [
        PersonUpdate(ref=ids.lead_ref(1), fields={"company": "Initech"}),
        PersonUpdate(ref=ids.lead_ref(2), fields={"company": "Initech"}),
        PersonUpdate(ref="marketo:lead:42", fields={"company": "Initech"}),
        PersonUpdate(ref=ids.lead_ref(3), fields={"noSuchField": 1}),
        PersonUpdate(ref=ids.lead_ref(4), fields={"createdAt": "2020-01-01T00:00:00Z"}),
        PersonUpdate(ref="marketo:lead:../x", fields={"company": "Initech"}),
    ]
    results = await client.update_people(updates)
    assert [(r.ok, r.code) for r in results] == [
        (True, None),
        (False, "1003"),
        (False, "1004"),
        (False, "1006"),
        (False, "1003"),
        (False, "invalid_ref"),
    ]
    assert results[3].message == "Field 'noSuchField' not found"
    assert emu.person_fields(ids.lead_id(1))["company"] == "Initech"
    assert emu.person_fields(ids.lead_id(2))["company"] == SEED.people[2].company


async def test_opt_out_sets_unsubscribed(client: MarketoClient, emu: MarketoEmulator) -> None:
    subscribed = [p.idx for p in SEED.people if p.consent_status == "subscribed"][:3]
    results = await client.opt_out([ids.lead_ref(i) for i in subscribed])
    assert all(r.ok for r in results)
    for i in subscribed:
        assert emu.person_fields(ids.lead_id(i))["unsubscribed"] is True
        assert (await client.get_person(ids.lead_ref(i))).consent.status == "opted_out"


async def test_add_and_remove_list_members_in_batches(
    client: MarketoClient, emu: MarketoEmulator
) -> None:
    lst = SEED.lists[5]
    newcomers = [i for i in range(800) if i not in lst.members][:620]
    refs = [ids.lead_ref(i) for i in newcomers]
    results = await client.add_to_list(ids.list_ref(5), refs)
    assert all(r.ok for r in results) and len(results) == len(refs)
    assert len(writes(emu, f"/lists/{ids.list_id(5)}/leads.json")) == 3
    assert set(emu.list_member_ids(ids.list_id(5))) >= {ids.lead_id(i) for i in newcomers}
    results = await client.remove_from_list(ids.list_ref(5), [*refs[:2], "marketo:lead:5"])
    assert [(r.ok, r.code) for r in results] == [(True, None), (True, None), (False, "1004")]
    again = await client.remove_from_list(ids.list_ref(5), refs[:1])
    assert (again[0].ok, again[0].code, again[0].message) == (False, "1015", "Lead not in list")
    assert ids.lead_id(newcomers[0]) not in emu.list_member_ids(ids.list_id(5))
    assert [r.method for r in writes(emu, f"/lists/{ids.list_id(5)}/leads.json")][-1] == "DELETE"


async def test_list_writes_refuse_smart_and_missing_lists(client: MarketoClient) -> None:
    with pytest.raises(NotSupportedByVendor) as err:
        await client.add_to_list(ids.list_ref(4), [ids.lead_ref(1)])
    assert "rule-based" in str(err.value)
    with pytest.raises(NotFoundError):
        await client.remove_from_list("marketo:list:4242", [ids.lead_ref(1)])


async def test_set_campaign_status_moves_forward_only(
    client: MarketoClient, emu: MarketoEmulator
) -> None:
    camp = SEED.campaigns[1]
    pid = ids.program_id(1)
    registered = next(p for p, st in camp.members if st == "Registered")
    attended = next(p for p, st in camp.members if st == "Attended")
    outsider = next(i for i in range(100) if i not in dict(camp.members))
    refs = [ids.lead_ref(registered), ids.lead_ref(attended), ids.lead_ref(outsider)]
    results = await client.set_campaign_status(ids.program_ref(1), refs, "No Show")
    assert [(r.ok, r.code) for r in results] == [(True, None), (False, "1037"), (True, None)]
    assert emu.campaign_member_status(pid, ids.lead_id(registered)) == "No Show"
    assert emu.campaign_member_status(pid, ids.lead_id(attended)) == "Attended"
    assert emu.campaign_member_status(pid, ids.lead_id(outsider)) == "No Show"
    with pytest.raises(InvalidRequest) as err:
        await client.set_campaign_status(ids.program_ref(1), refs, "Teleported")
    assert err.value.code == "1025" and "Teleported" in err.value.message
    with pytest.raises(NotSupportedByVendor):
        await client.set_campaign_status(ids.smart_campaign_ref(1), refs, "Sent")


async def test_trigger_campaign_chunks_100_and_records(
    client: MarketoClient, emu: MarketoEmulator
) -> None:
    refs = [ids.lead_ref(i) for i in range(250)]
    results = await client.trigger_campaign(ids.smart_campaign_ref(2), refs, {"offer": "20%"})
    assert all(r.ok for r in results) and len(results) == 250
    assert len(writes(emu, "/trigger.json")) == 3
    assert sum(len(t["lead_ids"]) for t in emu.triggered) == 250
    assert emu.triggered[0]["tokens"] == [{"name": "{{my.offer}}", "value": "20%"}]


async def test_trigger_refusals(client: MarketoClient, emu: MarketoEmulator) -> None:
    with pytest.raises(InvalidRequest) as err:  # a batch campaign without a request trigger
        await client.trigger_campaign(ids.smart_campaign_ref(0), [ids.lead_ref(1)], {})
    assert err.value.code == "1003"
    with pytest.raises(NotSupportedByVendor):
        await client.trigger_campaign(ids.program_ref(2), [ids.lead_ref(1)], {})
    assert emu.triggered == []


async def test_schedule_campaign(client: MarketoClient, emu: MarketoEmulator) -> None:
    run_at = datetime.now(UTC) + timedelta(days=3)
    result = await client.schedule_campaign(ids.smart_campaign_ref(0), run_at, {"x": "y"})
    assert result.ok and result.ref == ids.smart_campaign_ref(0)
    assert emu.scheduled[0]["campaign_id"] == ids.smart_campaign_id(0)
    with pytest.raises(InvalidRequest):  # a trigger campaign cannot be scheduled
        await client.schedule_campaign(ids.smart_campaign_ref(2), run_at, {})
    with pytest.raises(InvalidRequest) as err:
        await client.schedule_campaign(
            ids.smart_campaign_ref(0), datetime.now(UTC) + timedelta(days=900), {}
        )
    assert err.value.code == "1042"
    with pytest.raises(InvalidRequest):
        await client.schedule_campaign(ids.smart_campaign_ref(0), datetime(2030, 1, 1), {})
    assert len(emu.scheduled) == 1


async def test_delete_people(client: MarketoClient, emu: MarketoEmulator) -> None:
    idx = SEED.lists[0].members[0]
    results = await client.delete_people([ids.lead_ref(idx), "marketo:lead:77"])
    assert [(r.ok, r.code) for r in results] == [(True, None), (False, "1004")]
    assert not emu.has_person(ids.lead_id(idx))
    assert ids.lead_id(idx) not in emu.list_member_ids(ids.list_id(0))
    assert emu.deleted[0]["leadId"] == ids.lead_id(idx)
    with pytest.raises(NotFoundError):
        await client.get_person(ids.lead_ref(idx))


async def test_failure_after_first_chunk_is_reported_not_raised(
    client: MarketoClient, emu: MarketoEmulator
) -> None:
    emu.core.faults.fail_after_writes = 1
    results = await client.update_people(
        [PersonUpdate(ref=ids.lead_ref(i), fields={"leadScore": 1}) for i in range(700)]
    )
    assert all(r.ok for r in results[:300])
    assert {(r.ok, r.code) for r in results[300:600]} == {(False, "611")}
    assert {(r.ok, r.code) for r in results[600:]} == {(False, "not_attempted")}


async def test_failure_of_first_chunk_raises_typed_error(
    client: MarketoClient, emu: MarketoEmulator
) -> None:
    emu.core.faults.fail_after_writes = 0
    with pytest.raises(ServerError) as err:
        await client.add_to_list(ids.list_ref(0), [ids.lead_ref(1)])
    assert err.value.message == "System error"


async def test_writes_show_up_as_activities(client: MarketoClient, emu: MarketoEmulator) -> None:
    in_program = {p for p, _st in SEED.campaigns[3].members}
    idx = next(
        p.idx
        for p in SEED.people
        if p.idx not in SEED.lists[6].members
        and p.idx not in in_program
        and p.lead_status != "Working"
    )
    ref = ids.lead_ref(idx)
    await client.add_to_list(ids.list_ref(6), [ref])
    await client.update_people([PersonUpdate(ref=ref, fields={"leadStatus": "Working"})])
    await client.set_campaign_status(ids.program_ref(3), [ref], "Invited")
    page = await client.get_activities(
        person_ref=ref, types=("list_added", "field_changed", "status_changed")
    )
    assert sorted(a.type for a in page.items) == ["field_changed", "list_added", "status_changed"]
    assert (await client.get_activities(types=("other",))).items == []
    status = await client.get_activities(campaign_ref=ids.program_ref(3), types=("status_changed",))
    assert [a.person_ref for a in status.items] == [ref]

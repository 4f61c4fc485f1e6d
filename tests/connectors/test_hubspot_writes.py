"""Contract tests of the HubSpot client against the emulator: writes."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from mopsgate.connectors.http import RateLimiter, RetryPolicy
from mopsgate.connectors.hubspot.client import HubSpotClient
from mopsgate.crm.errors import InvalidRequest, NotSupportedByVendor, ServerError
from mopsgate.crm.records import PersonUpdate
from mopsgate.sandbox.emulator_base import LoggedRequest
from mopsgate.sandbox.hubspot import HubSpotEmulator, ids, sandbox_client
from mopsgate.sandbox.seed import seed_data
from tests.support.clock import FakeClock

SEED = seed_data()
EmuClient = tuple[HubSpotEmulator, HubSpotClient]


@pytest.fixture
def emu_client(fake_clock: FakeClock) -> EmuClient:
    clock = fake_clock
    emu = HubSpotEmulator(clock=clock)
    client = sandbox_client(
        emu,
        retry=RetryPolicy(sleep=clock.sleep, jitter=lambda: 0.5),
        limiter=RateLimiter(90, 10.0, clock=clock, sleep=clock.sleep),
    )
    return emu, client


def writes(emu: HubSpotEmulator, suffix: str) -> list[LoggedRequest]:
    return [r for r in emu.core.write_requests if r.path.endswith(suffix)]


async def test_update_people_batches_and_changes_state(emu_client: EmuClient) -> None:
    emu, client = emu_client
    updates = [
        PersonUpdate(
            ref=ids.person_ref(i), fields={"jobtitle": f"T{i}", "hs_lead_status": "WORKING"}
        )
        for i in range(250)
    ]
    results = await client.update_people(updates)
    assert [r.ref for r in results] == [u.ref for u in updates] and all(r.ok for r in results)
    assert len(writes(emu, "/batch/update")) == math.ceil(250 / 100)
    assert emu.person_fields("1008")["jobtitle"] == "T7"
    assert any(e["type"] == "field_changed" and e["contactId"] == "1008" for e in emu.write_log)


async def test_update_people_values_are_hubspot_strings(emu_client: EmuClient) -> None:
    emu, client = emu_client
    [res] = await client.update_people(
        [PersonUpdate(ref=ids.person_ref(1), fields={"message": None, "hs_legal_basis": "consent"})]
    )
    assert res.ok and emu.person_fields("1002")["message"] is None
    person = await client.get_person(ids.person_ref(1))
    assert person.fields["hs_legal_basis"] == "consent"


async def test_update_people_per_record_failures(emu_client: EmuClient) -> None:
    emu, client = emu_client
    emu.core.faults.fail_record_ids = {"1003"}
    results = await client.update_people(
        [
            PersonUpdate(ref=ids.person_ref(0), fields={"city": "Oslo"}),
            PersonUpdate(ref=ids.person_ref(1), fields={"hs_email_optout": False}),
            PersonUpdate(ref=ids.person_ref(2), fields={"city": "Oslo"}),
            PersonUpdate(ref="hubspot:contact:5", fields={"city": "Oslo"}),
            PersonUpdate(ref="hubspot:contact:x", fields={"city": "Oslo"}),
        ]
    )
    assert [(r.ok, r.code) for r in results] == [
        (True, None),
        (False, "read_only"),
        (False, "VALIDATION_ERROR"),
        (False, "OBJECT_NOT_FOUND"),
        (False, "invalid_ref"),
    ]
    assert "Simulated" in (results[2].message or "")
    assert emu.person_fields("1001")["city"] == "Oslo"
    assert (
        emu.person_fields("1002")["hs_email_optout"] == str(SEED.people[1].email_opt_out).lower()
    )  # read-only never sent
    assert len(writes(emu, "/batch/update")) == 1


async def test_invalid_value_fails_only_its_chunk(emu_client: EmuClient) -> None:
    _, client = emu_client
    updates = [
        PersonUpdate(ref=ids.person_ref(i), fields={"lifecyclestage": "customer"})
        for i in range(150)
    ]
    updates[120] = PersonUpdate(ref=ids.person_ref(120), fields={"lifecyclestage": "bogus"})
    results = await client.update_people(updates)
    assert all(r.ok for r in results[:100])
    assert all(not r.ok and r.code == "VALIDATION_ERROR" for r in results[100:])
    assert "bogus" in (results[100].message or "")


async def test_partial_apply_reports_every_record(emu_client: EmuClient) -> None:
    emu, client = emu_client
    emu.core.faults.fail_after_writes = 1
    updates = [PersonUpdate(ref=ids.person_ref(i), fields={"city": "Rome"}) for i in range(250)]
    results = await client.update_people(updates)
    assert all(r.ok for r in results[:100])
    assert {r.code for r in results[100:200]} == {"INTERNAL_ERROR"}
    assert {r.code for r in results[200:]} == {"not_attempted"}


async def test_first_chunk_failure_raises_typed_error(emu_client: EmuClient) -> None:
    emu, client = emu_client
    emu.core.faults.fail_after_writes = 0
    with pytest.raises(ServerError):
        await client.update_people([PersonUpdate(ref=ids.person_ref(0), fields={"city": "X"})])


async def test_add_and_remove_list_members(emu_client: EmuClient) -> None:
    emu, client = emu_client
    lst = SEED.lists[5]
    outside = [i for i in range(400) if i not in lst.members][:230]
    refs = [ids.person_ref(i) for i in outside] + [
        ids.person_ref(lst.members[0]),
        "hubspot:contact:42",
        "bad",
    ]
    results = await client.add_to_list(ids.list_ref(5), refs)
    assert len(writes(emu, "/memberships/add")) == math.ceil(232 / 100)
    assert all(r.ok for r in results[:231])
    assert (results[231].ok, results[231].code) == (False, "not_found")
    assert (results[232].ok, results[232].code) == (False, "invalid_ref")
    assert {ids.person_id(i) for i in outside} <= emu.list_member_ids(ids.list_id(5))
    removed = await client.remove_from_list(ids.list_ref(5), refs[:10])
    assert all(r.ok for r in removed)
    assert not {ids.person_id(i) for i in outside[:10]} & emu.list_member_ids(ids.list_id(5))
    assert any(e["type"] == "list_removed" for e in emu.write_log)


async def test_dynamic_list_refuses_writes(emu_client: EmuClient) -> None:
    _, client = emu_client
    with pytest.raises(InvalidRequest) as err:
        await client.add_to_list(ids.list_ref(4), [ids.person_ref(0)])
    assert "DYNAMIC" in err.value.message


async def test_opt_out_sets_optout_for_every_record_of_the_address(emu_client: EmuClient) -> None:
    emu, client = emu_client
    dup = next(
        p
        for p in SEED.people
        if p.duplicate_of is not None
        and p.email.strip().lower() == SEED.people[p.duplicate_of].email.lower()
    )
    refs = [ids.person_ref(i) for i in range(150)] + [
        ids.person_ref(dup.duplicate_of or 0),
        "hubspot:contact:7",
    ]
    results = await client.opt_out(refs)
    assert all(r.ok for r in results[:-1]) and results[-1].code == "not_found"
    assert len(writes(emu, "/unsubscribe-all")) == 2
    assert emu.person_fields("1005")["hs_email_optout"] == "true"
    assert emu.person_fields(ids.person_id(dup.idx))["hs_email_optout"] == "true"
    person = await client.get_person(ids.person_ref(5))
    assert person.consent.status == "opted_out"
    assert (await client.get_activities(person_ref=ids.person_ref(5), types=["unsubscribed"])).items


async def test_opt_out_partial_failure(emu_client: EmuClient) -> None:
    emu, client = emu_client
    emu.core.faults.fail_record_ids = {"1002"}
    results = await client.opt_out([ids.person_ref(0), ids.person_ref(1)])
    assert results[0].ok and not results[1].ok and results[1].code == "VALIDATION_ERROR"


async def test_delete_people(emu_client: EmuClient) -> None:
    emu, client = emu_client
    emu.core.faults.fail_record_ids = {"1003"}
    refs = [ids.person_ref(i) for i in range(120)]
    results = await client.delete_people(refs)
    assert len(writes(emu, "/batch/archive")) == 2
    assert [r.ok for r in results[:4]] == [True, True, False, True]
    assert emu.is_archived("1001") and not emu.is_archived("1003")
    assert ids.person_ref(0) not in await client.get_people([ids.person_ref(0)])


async def test_not_supported_operations(emu_client: EmuClient) -> None:
    _, client = emu_client
    with pytest.raises(NotSupportedByVendor, match="status ladder"):
        await client.set_campaign_status(ids.campaign_ref(0), [ids.person_ref(0)], "Sent")
    with pytest.raises(NotSupportedByVendor, match="trigger_campaign is not supported"):
        await client.trigger_campaign(ids.campaign_ref(0), [ids.person_ref(0)], {})
    with pytest.raises(NotSupportedByVendor, match="schedule_campaign"):
        await client.schedule_campaign(ids.campaign_ref(0), datetime.now(UTC), {})

"""The HubSpot emulator as ``hubspot-api-client`` (the official client) and mopsgate's own client
meet it over loopback HTTP: single-object create / update / archive, batch create and upsert,
companies and their v4 associations with contacts, a property by name, an owner by id, an
address's subscription status, list memberships the published schema accepts, and errors in
HubSpot's envelope (``status, message, correlationId, category``).

The client retries 429 and 503 with ``Retry-After`` on its own, so it is built with no retries:
a failure shows as a failure.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.associations.v4 import AssociationSpec
from hubspot.crm.companies import PublicObjectSearchRequest as CompanySearch
from hubspot.crm.companies import SimplePublicObjectInputForCreate as CompanyInput
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    SimplePublicObjectBatchInputForCreate,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts.exceptions import ApiException, NotFoundException
from hubspot.crm.deals.exceptions import NotFoundException as NoDeals
from urllib3.util.retry import Retry

from mopsgate.connectors.hubspot.client import HubSpotClient
from mopsgate.crm.records import PersonUpdate
from mopsgate.sandbox.hubspot import HubSpotEmulator
from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.sandbox.seed import seed_data

SEED = seed_data()


@pytest.fixture
def emu() -> HubSpotEmulator:
    return HubSpotEmulator(SEED)


@pytest.fixture
def api(emu: HubSpotEmulator, serve: Callable[[Any], str]) -> HubSpot:
    base = serve(emu.app)
    return HubSpot(
        access_token=hs.SANDBOX_TOKEN,
        host=base,
        base_url=base,  # api_request() would go to api.hubapi.com without it
        retry=Retry(total=0, respect_retry_after_header=False),
    )


def _envelope(exc: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.body)  # the client never parses it
    assert {"status", "message", "correlationId", "category"} <= set(body)
    return body


def test_one_contact_created_updated_archived(api: HubSpot, emu: HubSpotEmulator):
    contacts = api.crm.contacts.basic_api
    made = contacts.create(
        SimplePublicObjectInputForCreate(
            properties={"email": "new.person@example.test", "firstname": "New"}
        )
    )
    assert int(made.id) > int(hs.person_id(len(SEED.people) - 1))
    assert made.properties["email"] == "new.person@example.test"
    with pytest.raises(ApiException) as dup:
        contacts.create(
            SimplePublicObjectInputForCreate(properties={"email": SEED.people[2].email})
        )
    assert dup.value.status == 409 and _envelope(dup.value)["category"] == "CONFLICT"

    changed = contacts.update(made.id, SimplePublicObjectInput(properties={"jobtitle": "CMO"}))
    assert changed.properties["jobtitle"] == "CMO"
    assert emu.person_fields(made.id)["jobtitle"] == "CMO"
    with pytest.raises(ApiException) as bad:
        contacts.update(made.id, SimplePublicObjectInput(properties={"nope": "x"}))
    assert _envelope(bad.value)["category"] == "VALIDATION_ERROR"

    contacts.archive(made.id)
    assert emu.is_archived(made.id)
    with pytest.raises(NotFoundException) as gone:
        contacts.get_by_id(made.id)
    assert _envelope(gone.value)["category"] == "OBJECT_NOT_FOUND"


def test_batch_create_and_upsert_by_email(api: HubSpot, emu: HubSpotEmulator):
    batch = api.crm.contacts.batch_api
    created = batch.create(
        BatchInputSimplePublicObjectBatchInputForCreate(
            inputs=[
                SimplePublicObjectBatchInputForCreate(properties={"email": f"load{i}@example.test"})
                for i in range(3)
            ]
        )
    )
    assert len(created.results) == 3
    existing = SEED.people[4]
    upserted = batch.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                SimplePublicObjectBatchInputUpsert(
                    id=existing.email, id_property="email", properties={"jobtitle": "Upserted"}
                ),
                SimplePublicObjectBatchInputUpsert(
                    id="fresh@example.test", id_property="email", properties={"firstname": "F"}
                ),
            ]
        )
    )
    by_email = {r.properties["email"]: r for r in upserted.results}
    assert by_email[existing.email].id == hs.person_id(4) and not by_email[existing.email].new
    assert by_email["fresh@example.test"].new
    assert emu.person_fields(hs.person_id(4))["jobtitle"] == "Upserted"


def test_companies_and_their_associations(api: HubSpot):
    person = SEED.people[0]
    company = api.crm.companies.basic_api.create(CompanyInput(properties={"name": "Emulated Ltd"}))
    found = api.crm.companies.search_api.do_search(
        CompanySearch(
            filter_groups=[
                {"filters": [{"propertyName": "name", "operator": "EQ", "value": person.company}]}
            ]
        )
    )
    [seeded] = found.results
    assert len(api.crm.companies.basic_api.get_page(limit=2).results) == 2

    v4 = api.crm.associations.v4.basic_api
    cid = hs.person_id(0)
    current = v4.get_page("contacts", cid, "companies")
    assert [str(r.to_object_id) for r in current.results] == [seeded.id]  # the seed's primary
    assert {t.type_id for t in current.results[0].association_types} == {279, 1}

    made = v4.create_default("contacts", cid, "companies", company.id)
    assert made.status == "COMPLETE"
    labelled = v4.create(
        "companies",
        company.id,
        "contacts",
        hs.person_id(1),
        [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=2)],
    )
    assert labelled.labels == ["Primary"]
    both = v4.get_page("contacts", cid, "companies")
    assert sorted(str(r.to_object_id) for r in both.results) == sorted([seeded.id, company.id])
    v4.archive("contacts", cid, "companies", company.id)
    after = v4.get_page("contacts", cid, "companies")
    assert [str(r.to_object_id) for r in after.results] == [seeded.id]


def test_reads_by_name_and_memberships_the_schema_accepts(api: HubSpot):
    prop = api.crm.properties.core_api.get_by_name("contacts", "email")
    assert prop.name == "email" and prop.has_unique_value
    owner = api.crm.owners.owners_api.get_by_id(int(hs.owner_id(0)))
    assert owner.email == SEED.owners[0].email

    opted_out = next(p for p in SEED.people if p.email_opt_out)
    status = api.communication_preferences.status_api.get_email_status(opted_out.email)
    assert [s.status for s in status.subscription_statuses] == ["NOT_SUBSCRIBED"]

    manual = next(lst for lst in SEED.lists if lst.kind == "static")
    outsider = next(p.idx for p in SEED.people if p.idx not in manual.members)
    added = api.crm.lists.memberships_api.add(hs.list_id(manual.idx), [hs.person_id(outsider)])
    assert added.records_ids_added == [hs.person_id(outsider)] and added.record_ids_removed == []

    with pytest.raises(NoDeals) as unknown:  # an object the sandbox does not have
        api.crm.deals.basic_api.get_page(limit=1)
    assert _envelope(unknown.value)["status"] == "error"


async def test_a_method_a_path_does_not_take_is_a_405_envelope(emu: HubSpotEmulator):
    transport = httpx.ASGITransport(app=emu.app)
    auth = {"Authorization": f"Bearer {hs.SANDBOX_TOKEN}"}
    async with httpx.AsyncClient(transport=transport, base_url="https://hs.test") as http:
        put = await http.put("/crm/v3/objects/contacts/1001", headers=auth, json={})
    assert put.status_code == 405 and put.headers["allow"] == "DELETE, GET, PATCH"
    assert put.json()["status"] == "error" and put.json()["correlationId"]


async def test_mopsgate_client_over_loopback(emu: HubSpotEmulator, serve: Callable[[Any], str]):
    client = HubSpotClient(serve(emu.app), hs.SANDBOX_TOKEN)
    ref = hs.person_ref(9)
    [done] = await client.update_people([PersonUpdate(ref=ref, fields={"jobtitle": "Looped"})])
    assert done.ok
    assert (await client.get_person(ref)).fields["jobtitle"] == "Looped"
    await client.aclose()

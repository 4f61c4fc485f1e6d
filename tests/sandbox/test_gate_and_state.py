"""What every emulator does alike: one gate in front of every route (the vendor's checks before
its 'not found', the request log knowing which calls wrote), and state that can be handed in,
so two emulators over one state serve the same data."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mopsgate.crm.records import PersonQuery, PersonUpdate
from mopsgate.sandbox.hubspot import HubSpotEmulator
from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.sandbox.hubspot.connect import sandbox_client as hubspot_client
from mopsgate.sandbox.marketo import MarketoEmulator
from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.marketo.connect import sandbox_client as marketo_client
from mopsgate.sandbox.salesforce import SalesforceEmulator
from mopsgate.sandbox.salesforce import ids as sf
from mopsgate.sandbox.salesforce.connect import sandbox_client as salesforce_client
from mopsgate.sandbox.seed import seed_data
from mopsgate.sandbox.vendors import new_emulator, sandbox_client

SEED = seed_data()


async def _get(emu: Any, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=emu.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://emu.test") as http:
        return await http.get(path, headers=headers)


async def _token(emu: Any) -> str:
    token, _ttl = emu.core.issue_token()
    return str(token)


async def test_marketo_checks_auth_before_saying_not_found() -> None:
    emu = MarketoEmulator(SEED)
    anon = await _get(emu, "/rest/v1/nothing.json", None)
    assert anon.status_code == 200 and anon.json()["errors"][0]["code"] == "600"
    known = await _get(emu, "/rest/v1/nothing.json", await _token(emu))
    assert known.status_code == 200 and known.json()["errors"][0]["code"] == "610"
    assert [r.status for r in emu.core.requests] == [200, 200]  # Marketo's errors are envelopes
    assert emu.core.write_requests == []


async def test_hubspot_checks_auth_before_saying_not_found() -> None:
    emu = HubSpotEmulator(SEED)
    anon = await _get(emu, "/crm/v3/nothing", None)
    assert anon.status_code == 401 and anon.json()["category"] == "INVALID_AUTHENTICATION"
    known = await _get(emu, "/crm/v3/nothing", hs.SANDBOX_TOKEN)
    assert known.status_code == 404 and known.json()["status"] == "error"
    assert known.headers["x-hubspot-ratelimit-max"] == "100"  # stamped like every answer


async def test_salesforce_checks_auth_before_saying_not_found() -> None:
    emu = SalesforceEmulator(SEED)
    anon = await _get(emu, "/services/data/v62.0/nothing", None)
    assert anon.status_code == 401 and anon.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    known = await _get(emu, "/services/data/v62.0/nothing", await _token(emu))
    assert known.status_code == 404 and known.json()[0]["errorCode"] == "NOT_FOUND"
    assert "sforce-limit-info" in known.headers


async def test_the_log_knows_which_calls_wrote() -> None:
    emu = HubSpotEmulator(SEED)
    client = hubspot_client(emu)
    await client.search_people(PersonQuery(company="a"))
    await client.update_people([PersonUpdate(ref=hs.person_ref(1), fields={"jobtitle": "CTO"})])
    await client.get_people([hs.person_ref(2)])
    writes = [(r.method, r.path) for r in emu.core.write_requests]
    assert writes == [("POST", "/crm/v3/objects/contacts/batch/update")]
    await client.aclose()


@pytest.mark.parametrize("vendor", ["marketo", "hubspot", "salesforce"])
async def test_two_emulators_over_one_state_serve_the_same_data(vendor: str) -> None:
    """The seam a persistent store plugs into: the state is handed in, not owned."""
    first: Any
    second: Any
    connect: Any
    if vendor == "marketo":
        first = MarketoEmulator(SEED)
        second = MarketoEmulator(SEED, state=first.state)
        ref, field, connect = mk.lead_ref(3), "title", marketo_client
    elif vendor == "hubspot":
        first = HubSpotEmulator(SEED)
        second = HubSpotEmulator(SEED, state=first.state)
        ref, field, connect = hs.person_ref(3), "jobtitle", hubspot_client
    else:
        first = SalesforceEmulator(SEED)
        second = SalesforceEmulator(SEED, state=first.state)
        ref, field, connect = sf.person_ref(3), "Title", salesforce_client
    writer, reader = connect(first), connect(second)
    [result] = await writer.update_people([PersonUpdate(ref=ref, fields={field: "Head of Ops"})])
    assert result.ok
    assert (await reader.get_person(ref)).fields[field] == "Head of Ops"
    assert len(first.core.write_requests) == 1 and second.core.write_requests == []
    await writer.aclose()
    await reader.aclose()


SEEDED = {"marketo": MarketoEmulator, "hubspot": HubSpotEmulator, "salesforce": SalesforceEmulator}
REFS = {"marketo": mk.lead_ref, "hubspot": hs.person_ref, "salesforce": sf.person_ref}
FIELDS = {"marketo": "title", "hubspot": "jobtitle", "salesforce": "Title"}


@pytest.mark.parametrize("vendor", ["marketo", "hubspot", "salesforce"])
async def test_each_in_memory_sandbox_starts_from_the_whole_seed_and_owns_its_state(
    vendor: str,
) -> None:
    """Every server on the in-memory sandbox gets its own copy of the seed (loaded once per
    process and copied, ``sandbox.vendors``): a write in one is never seen by another."""
    ref, field = REFS[vendor](3), FIELDS[vendor]
    last = REFS[vendor](SEED.people[-1].idx)
    loaded = sandbox_client(vendor, SEEDED[vendor](SEED))  # the seed loaded the long way
    first, second = new_emulator(vendor), new_emulator(vendor)
    writer, reader = sandbox_client(vendor, first), sandbox_client(vendor, second)
    before = (await loaded.get_person(ref)).fields[field]
    assert (await reader.get_person(last)).fields == (await loaded.get_person(last)).fields
    [result] = await writer.update_people([PersonUpdate(ref=ref, fields={field: "Head of Ops"})])
    assert result.ok and (await writer.get_person(ref)).fields[field] == "Head of Ops"
    assert (await reader.get_person(ref)).fields[field] == before != "Head of Ops"
    third = sandbox_client(vendor, new_emulator(vendor))
    assert (await third.get_person(ref)).fields[field] == before
    for client in (loaded, writer, reader, third):
        await client.aclose()

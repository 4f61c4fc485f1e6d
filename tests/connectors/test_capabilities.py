"""Each connector declares what its vendor allows (``capabilities``), and does exactly that: a
write of one record more than the declared batch costs two vendor calls, a read of one more
than the read batch two reads. The core sizes its work from these numbers alone."""

from __future__ import annotations

from typing import Any

import pytest

from mopsgate.connectors.capabilities import capabilities_of
from mopsgate.crm.records import PersonUpdate
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

SEED = seed_data()
TITLE = {"marketo": "title", "hubspot": "jobtitle", "salesforce": "Title"}


def setup(vendor: str) -> tuple[Any, Any, list[str]]:
    """(emulator, client, refs of one person object) for a vendor."""
    if vendor == "marketo":
        emu: Any = MarketoEmulator(SEED)
        return emu, marketo_client(emu), [mk.lead_ref(p.idx) for p in SEED.people]
    if vendor == "hubspot":
        emu = HubSpotEmulator(SEED, ten_second_limit=10_000)
        return emu, hubspot_client(emu), [hs.person_ref(p.idx) for p in SEED.people]
    emu = SalesforceEmulator(SEED)
    leads = [sf.person_ref(p.idx) for p in SEED.people if not sf.is_contact(p.idx)]
    return emu, salesforce_client(emu), leads


@pytest.mark.parametrize("vendor", sorted(TITLE))
def test_the_client_carries_its_vendors_capabilities(vendor: str) -> None:
    _, client, _ = setup(vendor)
    assert client.capabilities is capabilities_of(vendor)


@pytest.mark.parametrize("vendor", sorted(TITLE))
async def test_writes_are_cut_at_the_declared_batch(vendor: str) -> None:
    emu, client, refs = setup(vendor)
    n = client.capabilities.update_batch + 1
    updates = [PersonUpdate(ref=r, fields={TITLE[vendor]: "Batch Tester"}) for r in refs[:n]]
    emu.core.reset_log()
    results = await client.update_people(updates)
    assert sum(r.ok for r in results) == n
    assert len(emu.core.write_requests) == 2
    await client.aclose()


@pytest.mark.parametrize("vendor", sorted(TITLE))
async def test_reads_are_cut_at_the_declared_batch(vendor: str) -> None:
    emu, client, refs = setup(vendor)
    await client.get_person(refs[0])  # the token, out of the way
    n = client.capabilities.read_batch + 1
    emu.core.reset_log()
    people = await client.get_people(refs[:n])
    assert len(people) == n
    assert len(emu.core.requests) == 2
    await client.aclose()


async def test_marketo_triggers_in_batches_of_its_trigger_cap() -> None:
    emu, client, refs = setup("marketo")
    n = client.capabilities.trigger_batch + 1
    results = await client.trigger_campaign(mk.smart_campaign_ref(2), refs[:n], {})
    assert all(r.ok for r in results) and len(results) == n
    assert len(emu.requests_to("/trigger.json", "POST")) == 2
    await client.aclose()

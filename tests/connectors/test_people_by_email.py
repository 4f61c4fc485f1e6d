"""``people_by_email``, the compliance floor's lookup of every record sharing an address: on
every vendor it finds each spelling of the address (case is not part of it), every person
object (Salesforce Leads and Contacts), and costs the fewest calls the vendor's limits allow."""

from __future__ import annotations

import math
from collections import defaultdict

import pytest

from mopsgate.connectors.lookups import url_sized_chunks
from mopsgate.sandbox.seed import seed_data
from mopsgate.server.app import Runtime
from tests.server.e2e_support import VENDORS
from tests.support.unpaced import unpaced_runtime  # noqa: F401 - the runtime fixture here

SEED = seed_data()
VENDOR_NAMES = sorted(VENDORS)


def _records_by_address(n: int) -> dict[str, set[int]]:
    """The first ``n`` seed addresses (lower case) → every seed person holding them."""
    out: dict[str, set[int]] = defaultdict(set)
    for p in SEED.people:
        out[p.email.strip().lower()].add(p.idx)
    return dict(list(out.items())[:n])


def _lookup_calls(runtime: Runtime, vendor: str) -> int:
    requests = runtime.connectors.emulator(vendor).core.requests
    if vendor == "marketo":
        return sum("filterType=email" in r.query for r in requests)
    if vendor == "hubspot":
        return sum(r.path.endswith("/contacts/search") for r in requests)
    return sum("/query" in r.path for r in requests)


def _minimum_calls(vendor: str, emails: list[str]) -> int:
    if vendor == "marketo":  # 300 values, or fewer to keep the URI under 8 KB
        return len(url_sized_chunks(emails, 300))
    if vendor == "hubspot":  # one IN filter of 100 values per search
        return math.ceil(len(emails) / 100)
    return 2 * len(url_sized_chunks(emails, 200))  # Leads and Contacts, 200 ids a query


@pytest.mark.parametrize("vendor", VENDOR_NAMES)
async def test_every_record_of_each_address_in_the_fewest_calls(vendor, runtime: Runtime):
    v = VENDORS[vendor]
    wanted = _records_by_address(600)
    emails = list(wanted)
    client = runtime.connectors.get(vendor)
    runtime.connectors.emulator(vendor).core.reset_log()
    found = await client.people_by_email(emails)
    assert sorted(p.ref for p in found) == sorted(v.ref(i) for g in wanted.values() for i in g)
    assert _lookup_calls(runtime, vendor) == _minimum_calls(vendor, emails)


@pytest.mark.parametrize("vendor", VENDOR_NAMES)
async def test_case_is_not_part_of_the_address(vendor, runtime: Runtime):
    """Lead 221 holds lead 149's address in upper case: either spelling finds both."""
    v = VENDORS[vendor]
    client = runtime.connectors.get(vendor)
    email = SEED.people[149].email
    for spelling in (email, email.upper(), f"  {email.title()} "):
        found = await client.people_by_email([spelling])
        assert sorted(p.ref for p in found) == sorted([v.ref(149), v.ref(221)]), spelling
    assert await client.people_by_email(["nobody@nowhere.test"]) == []


def test_url_sized_chunks_keep_both_limits():
    emails = [f"person.number{i}@a-rather-long-company-domain.test" for i in range(700)]
    chunks = url_sized_chunks(emails + emails[:5], 300, budget=5000)
    assert [e for c in chunks for e in c] == emails  # each once, in order
    assert all(len(c) <= 300 for c in chunks) and len(chunks) > math.ceil(700 / 300)
    assert all(sum(len(e) + 5 for e in c) <= 5000 for c in chunks)  # '@' is 3 encoded
    assert url_sized_chunks(["x" * 9000], 300) == [["x" * 9000]]
    assert url_sized_chunks([], 300) == []

"""The floor's rule for people with several records: which addresses are one, which cannot be
matched, and which record's verdict wins (``governance/consent_floor.py``)."""

from __future__ import annotations

import pytest

from mopsgate.governance.consent_floor import (
    express_consent,
    floor_blocks,
    lookup_forms,
    normalise_email,
)
from mopsgate.sandbox.seed import seed_data
from mopsgate.server.app import Runtime
from tests.server.e2e_support import VENDORS

SEED = seed_data()


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("Hugo.Okafor149@TyrellSystems.test", "hugo.okafor149@tyrellsystems.test"),
        ("  HUGO.OKAFOR149@TYRELLSYSTEMS.TEST ", "hugo.okafor149@tyrellsystems.test"),
        ("o'brien+news@example.test", "o'brien+news@example.test"),
        ("jan@Müller.test", "jan@xn--mller-kva.test"),
        ("jan@xn--mller-kva.test", "jan@xn--mller-kva.test"),
    ],
)
def test_one_address_in_any_spelling(raw, key):
    assert normalise_email(raw) == key


@pytest.mark.parametrize(
    "raw",
    [
        "hugo.okаfor149@tyrellsystems.test",  # Cyrillic а: a homoglyph
        "\u200bhugo@tyrellsystems.test",  # zero-width space
        "ｈugo@tyrellsystems.test",  # full-width h
        "hugo\u202e@tyrellsystems.test",  # bidi override
        "hugo,ana@tyrellsystems.test",  # a list, not an address
        '"hugo okafor"@tyrellsystems.test',
        "hugo@",
        "@tyrellsystems.test",
        "hugo",
        "hugo@localhost",
        "hugo@-bad-.test",
        "hugo@exa mple.test",
        "",
    ],
)
def test_what_cannot_be_matched_is_refused(raw):
    assert normalise_email(raw) is None


def test_an_internationalised_domain_is_looked_up_in_both_forms():
    assert lookup_forms("jan@xn--mller-kva.test") == ["jan@xn--mller-kva.test", "jan@müller.test"]
    assert lookup_forms("jan@example.test") == ["jan@example.test"]


@pytest.mark.parametrize("vendor", sorted(VENDORS))
async def test_the_worst_record_of_an_address_decides(vendor, runtime: Runtime):
    """554 is subscribed; its address is also held by 739 (unknown consent), 1849 (subscribed)
    and 2145 (opted out): opted out wins, and names the record it comes from. 60 and its twin
    147 are both subscribed: nobody is blocked."""
    v = VENDORS[vendor]
    group = [554, 739, 1849, 2145]
    assert {SEED.people[i].email.lower() for i in group} == {SEED.people[554].email}
    assert [SEED.people[i].consent_status for i in group] == [
        "subscribed",
        "unknown",
        "subscribed",
        "opted_out",
    ]
    client = runtime.connectors.get(vendor)
    people = await client.get_people([v.ref(i) for i in (554, 1849, 60, 147)])
    express = express_consent(runtime.holder.manifest, vendor)
    blocks = await floor_blocks(client, people.values(), express)
    assert sorted(blocks) == sorted([v.ref(554), v.ref(1849)])
    code, reason = blocks[v.ref(554)]
    assert code == "opted_out"
    assert reason == (
        f"opted out of email on {v.ref(2145)}, another record with the same email address"
    )

"""A field the caller may not read is never matched on, grouped on or counted over.

PRODUCT.md: fields the principal may not read are left out and reported. Matching a record by
an address (or a name and company) the caller may not read would tell them that value just as
well as showing it; counting records of an object they may not read would tell them about those
records. Each test withholds one thing with a manifest rule, calls the tool through the MCP
client as the assistant, and checks both that nothing of it shows and that the result says what
was left out and why. Expectations come from the seed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from mopsgate.sandbox.salesforce import ids as sf
from mopsgate.server.app import Runtime
from tests.conftest import audit_rows
from tests.support.unpaced import unpaced_runtime  # noqa: F401 - the runtime fixture here
from tests.tools.seed_facts import SEED, VENDORS, first
from tests.tools.test_cross_system import expected
from tests.tools.test_owners import OWNER_REF, owned
from tests.tools.test_reads_per_vendor import ok, refused

WHY = "Addresses are the CRM team's business."


def deny(manifest_path: Path, rule_id: str, tools: list[str], connector: str, extra: str) -> None:
    """Append a deny rule for the assistant (``extra``: its fields or objects line)."""
    with manifest_path.open("a", encoding="utf-8") as fh:
        fh.write(
            f'\n[[rules]]\nid = "{rule_id}"\neffect = "deny"\nprincipals = ["assistant"]\n'
            f"tools = {tools!r}\n".replace("'", '"')
            + f'connectors = ["{connector}"]\n{extra}\nreason = "{WHY}"\n'
        )


@pytest.fixture
def hubspot_email_withheld(manifest_path: Path) -> Path:
    deny(
        manifest_path,
        "no-hubspot-email",
        ["resolve_person", "search_people"],
        "hubspot",
        'fields = ["email"]',
    )
    return manifest_path


async def test_resolve_person_never_matches_on_an_email_you_may_not_read(
    hubspot_email_withheld, connect
):
    """The caller gives an address: HubSpot holds it, but the caller may not read HubSpot
    emails, so HubSpot's record is not found by it (only, as anyone could, by its readable
    name and company, labelled weak). From a HubSpot reference, its hidden address is not
    used to find the others either. not_matched_on says why, naming the rule's reason."""
    person = first(lambda p: p.consent_status == "subscribed")
    hs_ref = VENDORS["hubspot"].person_ref(person.idx)
    async with connect("assistant") as client:
        by_email = await ok(client, "resolve_person", {"emails": [person.email]})
        by_ref = await ok(client, "resolve_person", {"refs": [hs_ref]})
    [got] = by_email["people"]
    how = {r["person"]["ref"]: r["matched_by"] for r in got["records"]}
    assert how[VENDORS["marketo"].person_ref(person.idx)] == "email"
    assert how[VENDORS["salesforce"].person_ref(person.idx)] == "email"
    assert how.get(hs_ref) == "name+company"  # never "email"
    [gap] = by_email["not_matched_on"]
    assert (gap["connector"], gap["object"], gap["match"], gap["fields"]) == (
        "hubspot",
        "contact",
        "email",
        ["email"],
    )
    assert WHY in gap["reason"] and "reference" in gap["reason"]
    [named] = by_ref["people"]
    assert named["email"] is None  # the hidden address was not matched on, nor shown
    others = [r for r in named["records"] if r["person"]["ref"] != hs_ref]
    assert others and {r["matched_by"] for r in others} == {"name+company"}
    assert by_ref["not_matched_on"] == by_email["not_matched_on"]


async def test_search_people_refuses_a_filter_on_a_field_you_may_not_read(
    hubspot_email_withheld, connect, settings
):
    """A search by email finds the record holding that address: on a field the caller may not
    read it is refused before anything is read, naming the field, and audited."""
    person = first(lambda p: p.consent_status == "subscribed")
    async with connect("assistant") as client:
        text = await refused(
            client, "search_people", {"connector": "hubspot", "email": person.email}
        )
        fine = await ok(client, "search_people", {"connector": "marketo", "email": person.email})
    assert "the email filter reads hubspot contact field 'email'" in text
    assert "which you may not read" in text and "Drop that filter" in text
    assert [i["ref"] for i in fine["items"]] == [VENDORS["marketo"].person_ref(person.idx)]
    row = next(r for r in audit_rows(settings) if r["tool"] == "search_people")
    assert row["outcome"] != "ok" and row["records"] in (None, "", "[]")


@pytest.fixture
def salesforce_first_name_withheld(manifest_path: Path) -> Path:
    deny(
        manifest_path,
        "no-salesforce-first-name",
        ["resolve_person"],
        "salesforce",
        'fields = ["FirstName"]',
    )
    return manifest_path


async def test_no_weak_match_on_a_name_you_may_not_read(
    salesforce_first_name_withheld, connect, runtime: Runtime
):
    """Salesforce holds the person under another address, so only a name + company match
    could find them there; the caller may not read Salesforce's first names, so none is tried."""
    person = first(lambda p: p.consent_status == "subscribed")
    idx = person.idx
    sf_v = VENDORS["salesforce"]
    runtime.connectors.emulator("salesforce").set_person_field(
        sf_v.native(idx), "Email", "someone.else@elsewhere.test"
    )
    async with connect("assistant") as client:
        out = await ok(client, "resolve_person", {"refs": [VENDORS["marketo"].person_ref(idx)]})
    [got] = out["people"]
    assert got["not_found_on"] == ["salesforce"]
    assert sf_v.person_ref(idx) not in {r["person"]["ref"] for r in got["records"]}
    gaps = {(g["object"], g["match"]): g["fields"] for g in out["not_matched_on"]}
    assert gaps == {
        ("Lead", "name+company"): ["FirstName"],
        ("Contact", "name+company"): ["FirstName"],
    }


@pytest.fixture
def marketo_email_withheld_in_drift(manifest_path: Path) -> Path:
    deny(
        manifest_path,
        "no-marketo-email",
        ["find_cross_system_drift"],
        "marketo",
        'fields = ["email"]',
    )
    return manifest_path


async def test_drift_joins_only_on_addresses_you_may_read(marketo_email_withheld_in_drift, connect):
    """Drift joins people by email: Marketo's records cannot be joined by an address the
    caller may not read, so Marketo drops out of the comparison, and the answer says so."""
    async with connect("assistant") as client:
        out = await ok(client, "find_cross_system_drift", {"limit": 100})
    assert out["counts"] == expected(("hubspot", "salesforce"))
    assert all("marketo" not in i["by_connector"] for i in out["items"])
    assert out["records_scanned"]["marketo"] == 0
    [gap] = out["not_matched_on"]
    assert (gap["connector"], gap["match"], gap["fields"]) == ("marketo", "email", ["email"])


@pytest.fixture
def salesforce_contacts_closed(manifest_path: Path) -> Path:
    deny(
        manifest_path,
        "no-salesforce-contacts",
        ["find_cross_system_drift", "find_duplicates", "list_owners", "find_consent_conflicts"],
        "salesforce",
        'objects = ["Contact"]',
    )
    return manifest_path


LEADS = [p.idx for p in SEED.people if not sf.is_contact(p.idx)]


async def test_records_of_an_object_you_may_not_read_are_not_counted_nor_grouped(
    salesforce_contacts_closed, connect
):
    """Contacts are closed to the caller: the drift scan's count, the duplicates inside a list
    and its count, each owner's record count and the consent conflicts cover Leads only."""
    sf_v = VENDORS["salesforce"]
    members = SEED.lists[0].members
    assert any(sf.is_contact(i) for i in members)
    async with connect("assistant") as client:
        drift = await ok(client, "find_cross_system_drift", {"limit": 100})
        dupes = await ok(
            client,
            "find_duplicates",
            {"connector": "salesforce", "list_ref": sf_v.list_ref(0), "limit": 100},
        )
        owners = await ok(client, "list_owners", {"connector": "salesforce"})
        conflicts = await ok(client, "find_consent_conflicts", {"connector": "salesforce"})
    assert drift["records_scanned"]["salesforce"] == len(LEADS)
    found = [c["person_ref"] for c in conflicts["conflicts"]]
    assert found and not any(":Contact:" in r for r in found)
    # a Lead blocked by a Contact of the same address is a conflict, but the Contact is not
    # named: "another record ... that you may not read"
    reasons = [r for c in conflicts["conflicts"] for r in c["reasons"]]
    assert not any(":Contact:" in r for r in reasons), reasons
    assert any("you may not read" in r for r in reasons), reasons
    refs = [r for i in drift["items"] for v in i["by_connector"].values() for r in v["refs"]]
    assert refs and not any(":Contact:" in r for r in refs)
    grouped = [r for g in dupes["groups"] for r in g["people"]]
    assert grouped and not any(":Contact:" in r for r in grouped)
    assert dupes["records_scanned"] == sum(not sf.is_contact(i) for i in members)
    leads_of = Counter(SEED.held_by("salesforce", SEED.people[i]).owner_idx for i in LEADS)
    counts = {o["ref"]: o["record_count"] for o in owners["owners"]}
    assert counts == {OWNER_REF["salesforce"](o.idx): leads_of[o.idx] for o in SEED.owners}
    assert counts != {
        OWNER_REF["salesforce"](o.idx): owned("salesforce")[o.idx] for o in SEED.owners
    }
    assert owners["counted_objects"] == ["Lead"] and list(owners["not_counted"]) == ["Contact"]


@pytest.fixture
def hubspot_owner_withheld(manifest_path: Path) -> Path:
    deny(manifest_path, "no-hs-owner", ["list_owners"], "hubspot", 'fields = ["hubspot_owner_id"]')
    return manifest_path


async def test_owner_counts_need_the_owner_field(hubspot_owner_withheld, connect):
    """Counting HubSpot contacts per owner reads their owner field: without it, no counts."""
    async with connect("assistant") as client:
        out = await ok(client, "list_owners", {"connector": "hubspot"})
    assert {o["record_count"] for o in out["owners"]} == {None}
    assert out["people_with_inactive_owner"] is None and out["counted_objects"] == []
    assert WHY in out["not_counted"]["contact"]


@pytest.fixture
def leads_unmasked_contacts_masked(manifest_path: Path) -> Path:
    """The analyst may list Salesforce owners: Leads with PII whole, Contacts masked."""
    with manifest_path.open("a", encoding="utf-8") as fh:
        for obj, pii in (("Lead", "unmasked"), ("Contact", "masked")):
            fh.write(
                f'\n[[rules]]\nid = "analyst-owners-{obj.lower()}"\neffect = "allow"\n'
                'principals = ["analyst"]\nuse_case = "reporting"\ntools = ["list_owners"]\n'
                f'connectors = ["salesforce"]\nobjects = ["{obj}"]\nread_fields = ["*"]\n'
                f'pii = "{pii}"\n'
            )
    return manifest_path


async def test_owner_emails_are_masked_unless_every_object_unmasks(
    leads_unmasked_contacts_masked, connect
):
    """Owners own Leads and Contacts alike: shown whole only if every object read says so."""
    async with connect("analyst") as client:
        out = await ok(client, "list_owners", {"connector": "salesforce"})
    emails = [o["email"] for o in out["owners"] if o["email"]]
    assert emails and all("***@" in e for e in emails)
    assert out["counted_objects"] == ["Lead", "Contact"]

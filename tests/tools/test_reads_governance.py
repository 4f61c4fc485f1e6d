"""Data-access governance of the read tools: masking, withheld fields, untrusted text, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mopsgate.sandbox.seed import INJECTION_TEXTS, INVISIBLES
from mopsgate.server.app import INSTRUCTIONS, Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.tools.seed_facts import NAMES, SEED, VENDORS, visible
from tests.tools.test_reads_per_vendor import ok, refused

INJECTED = 13  # seed person carrying INJECTION_TEXTS[0] in their notes (a Lead on Salesforce)
INVISIBLE = 7  # seed person with an invisible character in first name and notes


def unmask_assistant(manifest_path: Path) -> None:
    """The assistant's read rule with pii = "unmasked", to see untrusted text as data."""
    text = manifest_path.read_text()
    rule = text.index('id = "assistant-read"')
    head, tail = text[:rule], text[rule:]
    manifest_path.write_text(head + tail.replace('pii = "masked"', 'pii = "unmasked"', 1))


def strings(obj: Any) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for k, v in obj.items() for s in (*strings(k), *strings(v))]
    if isinstance(obj, list):
        return [s for v in obj for s in strings(v)]
    return []


def people_in(result: Any) -> set[str]:
    """Every person reference a result names."""
    found = set()
    for s in strings(result):
        if s.count(":") == 2 and s.split(":")[1] in ("lead", "contact", "Lead", "Contact"):
            found.add(s)
    return found


@pytest.mark.parametrize("name", NAMES)
async def test_analyst_never_sees_unmasked_email_or_phone(name, connect, settings: Settings):
    v = VENDORS[name]
    busy = next(a.person_idx for a in SEED.activities if a.campaign_idx == 0)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("search_people", {"connector": name, "company": "Globex", "limit": 40}),
        ("list_members", {"list_ref": v.list_ref(0), "limit": 40}),
        ("get_person", {"ref": v.person_ref(busy)}),
        ("get_activities", {"person_ref": v.person_ref(busy)}),
        ("get_activities", {"campaign_ref": v.members_ref(0), "limit": 40}),
        ("search_people", {"connector": name, "email": SEED.people[busy].email}),
    ]
    calls.append(("find_duplicates", {"connector": name, "list_ref": v.list_ref(1)}))
    results = []
    async with connect("analyst") as client:
        for tool, args in calls:
            results.append(await ok(client, tool, args))
    seen = set().union(*(people_in(r) for r in results))
    by_ref = {v.person_ref(p.idx): p for p in SEED.people}
    assert len(seen) > 50
    secrets = set()
    for ref in seen:
        p = by_ref[ref]
        secrets |= {p.email.casefold(), p.phone, p.phone.removeprefix("+1 ")}
    shown = json.dumps(results, ensure_ascii=False).casefold()
    raw = b"".join(f.read_bytes() for f in settings.home.glob("mopsgate.db*")).decode(
        "utf-8", "replace"
    )
    stored = raw.casefold()
    assert len(audit_rows(settings)) == len(calls)
    for secret in secrets:
        assert secret.casefold() not in shown, secret
        assert secret.casefold() not in stored, secret


@pytest.mark.parametrize("name", NAMES)
async def test_denied_fields_are_absent_and_reported(name, connect):
    v = VENDORS[name]
    phone, street = v.fields["phone"], v.fields["street"]
    ref = v.person_ref(INJECTED)
    async with connect("analyst") as client:
        person = await ok(client, "get_person", {"ref": ref})
        only = await ok(client, "get_person", {"ref": ref, "fields": [phone]})
        described = await ok(client, "describe_fields", {"connector": name})
    assert phone not in person["fields"] and street not in person["fields"]
    why = {w["field"]: w["reason"] for w in person["withheld"]}
    assert "analyst-no-phone" in why[phone] and "not needed for reporting" in why[phone]
    assert "analyst-read" in why[street]
    assert only["fields"] == {} and [w["field"] for w in only["withheld"]] == [phone]
    readable = {f["name"]: f["readable_by_you"] for f in described["fields"]}
    assert readable[phone] is False and readable[street] is False
    assert readable[v.fields["email"]] is True


async def test_salesforce_contacts_withhold_their_own_street_field(connect):
    v = VENDORS["salesforce"]
    contact = next(p.idx for p in SEED.people if not v.person_ref(p.idx).count(":Lead:"))
    async with connect("analyst") as client:
        person = await ok(client, "get_person", {"ref": v.person_ref(contact)})
    assert "MailingStreet" not in person["fields"]
    assert {"MailingStreet", "Phone"} <= {w["field"] for w in person["withheld"]}


@pytest.mark.parametrize("name", NAMES)
async def test_untrusted_text_comes_back_as_cleaned_data(name, connect, manifest_path):
    unmask_assistant(manifest_path)
    v = VENDORS[name]
    notes, first_name = v.fields["notes"], v.fields["first_name"]
    async with connect("assistant") as client:
        tools = (await client.list_tools()).tools
        injected = await ok(client, "get_person", {"ref": v.person_ref(INJECTED)})
        hidden = await ok(client, "get_person", {"ref": v.person_ref(INVISIBLE)})
    assert injected["fields"][notes] == SEED.people[INJECTED].notes == INJECTION_TEXTS[0]
    assert injected["masked"] == [] and injected["cleaned"] == []
    described = INSTRUCTIONS + json.dumps([t.model_dump(mode="json") for t in tools])
    for text in INJECTION_TEXTS:
        assert text[:30] not in described
    seed = SEED.people[INVISIBLE]
    assert hidden["fields"][first_name] == visible(seed.first_name) != seed.first_name
    assert hidden["fields"][notes] == visible(seed.notes)
    cleaned = {c["field"]: c for c in hidden["cleaned"]}
    assert cleaned[first_name]["stripped_characters"] >= 1
    assert cleaned[notes]["stripped_characters"] >= 1 and not cleaned[notes]["truncated"]
    assert not any(ch in s for s in strings(hidden) for ch in INVISIBLES)


@pytest.mark.parametrize("name", NAMES)
async def test_masked_values_are_cleaned_first_and_still_reported(name, connect):
    v = VENDORS[name]
    first_name = v.fields["first_name"]
    async with connect("assistant") as client:
        hidden = await ok(client, "get_person", {"ref": v.person_ref(INVISIBLE)})
        injected = await ok(client, "get_person", {"ref": v.person_ref(INJECTED)})
    assert hidden["fields"][first_name] == visible(SEED.people[INVISIBLE].first_name)[0] + "***"
    assert first_name in hidden["masked"]
    assert first_name in {c["field"] for c in hidden["cleaned"]}
    assert injected["fields"][v.fields["notes"]] == "I***"  # notes are PII in the manifest


@pytest.mark.parametrize("name", NAMES)
async def test_long_values_are_capped_and_marked(name, connect, runtime: Runtime, manifest_path):
    unmask_assistant(manifest_path)
    v = VENDORS[name]
    notes = v.fields["notes"]
    runtime.connectors.emulator(name).set_person_field(
        v.native(INJECTED), notes, "A" * 3000 + "\u200b" + "B" * 10
    )
    async with connect("assistant") as client:
        person = await ok(client, "get_person", {"ref": v.person_ref(INJECTED)})
    value = person["fields"][notes]
    assert value == "A" * 500 + "…[truncated 2510 chars]"
    assert {"field": notes, "stripped_characters": 1, "truncated": True} in person["cleaned"]


async def test_unknown_connector_object_and_field_list_what_exists(connect):
    async with connect("assistant") as client:
        connector = await refused(client, "search_people", {"connector": "zendesk"})
        sf_object = await refused(
            client, "search_people", {"connector": "salesforce", "object": "Account"}
        )
        not_person = await refused(
            client, "search_people", {"connector": "hubspot", "object": "list"}
        )
        ref_object = await refused(client, "get_person", {"ref": "hubspot:deal:1001"})
        field = await refused(
            client, "get_person", {"ref": VENDORS["hubspot"].person_ref(1), "fields": ["shoe_size"]}
        )
        wrong_kind = await refused(
            client, "list_members", {"list_ref": VENDORS["hubspot"].person_ref(1)}
        )
        mixed = await refused(
            client,
            "get_activities",
            {
                "person_ref": VENDORS["hubspot"].person_ref(1),
                "campaign_ref": VENDORS["salesforce"].members_ref(0),
            },
        )
    assert all(n in connector for n in ("marketo", "hubspot", "salesforce"))
    assert "has no object 'Account'" in sf_object and "Lead" in sf_object
    assert "has no person object 'list'" in not_person and "contact" in not_person
    assert "has no object 'deal'" in ref_object and "contact" in ref_object
    assert "shoe_size" in field and "lifecyclestage" in field
    assert "[invalid_input]" in wrong_kind and "not one of: list" in wrong_kind
    assert "one connector" in mixed


async def test_cursor_from_another_query_is_refused(connect, settings: Settings):
    async with connect("assistant") as client:
        page = await ok(
            client, "search_people", {"connector": "hubspot", "company": "Acme Corp", "limit": 5}
        )
        other_filter = await refused(
            client,
            "search_people",
            {"connector": "hubspot", "company": "Globex", "cursor": page["next_cursor"]},
        )
        lists = await ok(client, "list_lists", {"connector": "marketo", "limit": 2})
        other_connector = await refused(
            client, "list_lists", {"connector": "salesforce", "cursor": lists["next_cursor"]}
        )
        members = await ok(
            client, "list_members", {"list_ref": VENDORS["marketo"].list_ref(0), "limit": 5}
        )
        other_list = await refused(
            client,
            "list_members",
            {"list_ref": VENDORS["marketo"].list_ref(1), "cursor": members["next_cursor"]},
        )
        forged = await refused(client, "list_lists", {"connector": "hubspot", "cursor": "bm9wZQ"})
    for text in (other_filter, other_connector, other_list):
        assert "[invalid_input] the cursor belongs to a different query" in text
    assert "not one this tool issued" in forged
    assert [r["error_code"] for r in audit_rows(settings)][-1] == "invalid_input"


@pytest.mark.parametrize("name", NAMES)
async def test_opted_out_addresses_are_never_exported_even_unmasked(
    name, connect, settings: Settings
):
    """I-18, decided: a principal allowed unmasked PII still gets opted-out people's address
    and phone masked (CAN-SPAM: no sale or transfer of an opted-out address), so a bulk read
    of them is no export; subscribed people come back in the clear, as the grant says."""
    text = settings.manifest_path.read_text()
    allow = 'effect = "allow"\nprincipals = ["assistant"]\n'
    assert allow in text  # every rule of the assistant says so: PII unmasked
    text = text.replace('pii = "masked"\n', "").replace(allow, allow + 'pii = "unmasked"\n')
    settings.manifest_path.write_text(text)
    v = VENDORS[name]
    opted = [p for p in SEED.people if p.consent_status == "opted_out" and p.duplicate_of is None]
    sub = next(p for p in SEED.people if p.consent_status == "subscribed")
    async with connect("assistant") as client:
        out = await ok(client, "search_people", {"connector": name, "email": opted[0].email})
        one = await ok(client, "get_person", {"ref": v.person_ref(opted[1].idx)})
        clear = await ok(client, "get_person", {"ref": v.person_ref(sub.idx)})
    shown = json.dumps([out, one], ensure_ascii=False).casefold()
    for p in opted[:2]:
        assert p.email.casefold() not in shown and p.phone not in shown
    assert out["items"] and all(i["consent"]["status"] == "opted_out" for i in out["items"])
    assert sub.email in json.dumps(clear)  # the grant itself still holds for the others
    raw = b"".join(f.read_bytes() for f in settings.home.glob("mopsgate.db*"))
    assert opted[0].email.encode() not in raw


@pytest.mark.parametrize("name", NAMES)
async def test_text_aimed_at_the_ai_is_flagged_in_the_audit_row_only(
    name, connect, settings: Settings
):
    """I-01: a read returning a note that reads like instructions ("Ignore previous
    instructions…", "SYSTEM: …") marks its audit row injection_suspect, naming the record and
    field, also when the note itself is masked for this principal; the result is the same data
    either way (a flag, never a control), and a clean record's row carries no flag."""
    v = VENDORS[name]
    notes = v.fields["notes"]
    injected = [p.idx for p in SEED.people if p.notes in INJECTION_TEXTS]
    async with connect("assistant") as client:
        got = await ok(client, "get_person", {"ref": v.person_ref(INJECTED)})
        await ok(client, "get_person", {"ref": v.person_ref(INVISIBLE)})
        company = SEED.people[injected[1]].company
        page = await ok(
            client, "search_people", {"connector": name, "company": company, "limit": 100}
        )
    assert got["fields"][notes] == "I***" and "injection" not in json.dumps(got)
    rows = [r for r in audit_rows(settings) if r["tool"] in ("get_person", "search_people")]
    flag = f"injection_suspect: {v.person_ref(INJECTED)} ({notes})"
    assert flag in rows[0]["result_summary"], rows[0]["result_summary"]
    assert "injection_suspect" not in rows[1]["result_summary"]
    found = [i["ref"] for i in page["items"] if i["ref"] == v.person_ref(injected[1])]
    assert found and f"{found[0]} ({notes})" in rows[2]["result_summary"]


@pytest.mark.parametrize("name", NAMES)
async def test_an_erasure_request_has_nothing_to_rewrite_in_the_audit_log(
    name, connect, settings: Settings
):
    """L-14: even a principal reading PII unmasked leaves in the audit database (and its WAL)
    only the record's reference and masked forms: after the person is erased in the CRM the
    log holds nothing that names them, so nothing is rewritten and the chain stays valid."""
    text = settings.manifest_path.read_text()
    allow = 'effect = "allow"\nprincipals = ["assistant"]\n'
    text = text.replace('pii = "masked"\n', "").replace(allow, allow + 'pii = "unmasked"\n')
    settings.manifest_path.write_text(text)
    v = VENDORS[name]
    p = next(s for s in SEED.people if s.consent_status == "subscribed" and s.duplicate_of is None)
    async with connect("assistant") as client:
        got = await ok(client, "get_person", {"ref": v.person_ref(p.idx)})
        await ok(client, "search_people", {"connector": name, "email": p.email})
    assert p.email in json.dumps(got)  # the principal did see it in the clear
    raw = b"".join(f.read_bytes() for f in settings.home.glob("mopsgate.db*"))
    for secret in (p.email, p.phone, p.phone.removeprefix("+1 "), p.first_name + " " + p.last_name):
        assert secret.encode() not in raw, secret
    assert v.person_ref(p.idx).encode() in raw  # the data-access record: a reference only

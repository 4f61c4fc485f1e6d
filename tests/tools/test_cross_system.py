"""resolve_person and find_cross_system_drift on every connector, against the seed's drift:
expectations come from ``seed_data().drift`` and the vendors' ids modules, never from a client."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest

from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.support.unpaced import unpaced_runtime  # noqa: F401 - the runtime fixture here
from tests.tools.seed_facts import NAMES, SEED, VENDORS
from tests.tools.test_reads_per_vendor import ok, refused

DRIFT = {d.idx: d for d in SEED.drift}
KINDS = ("consent", "lifecycle_stage", "owner")
# the field resolve_person compares for each kind of drift
FIELD_OF = {"consent": "consent", "lifecycle_stage": "lifecycle_stage", "owner": "owner"}


def drifted(kind: str, vendor: str) -> int:
    return next(d.idx for d in SEED.drift if d.kind == kind and d.vendor == vendor)


def test_the_seed_drifts_on_purpose():
    assert len(SEED.drift) == 36
    assert {(k, sum(d.kind == k for d in SEED.drift)) for k in KINDS} == {(k, 12) for k in KINDS}
    for d in SEED.drift:  # held differently by exactly one vendor
        person = SEED.people[d.idx]
        held = {v: SEED.held_by(v, person) for v in NAMES}
        assert [v for v in NAMES if held[v] != person] == [d.vendor]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("kind", KINDS)
async def test_resolve_person_from_a_reference(name, kind, connect, settings: Settings):
    idx = drifted(kind, name)
    person = SEED.people[idx]
    ref = VENDORS[name].person_ref(idx)
    async with connect("assistant") as client:
        out = await ok(client, "resolve_person", {"refs": [ref]})
    [got] = out["people"]
    assert got["asked"] == ref
    assert sorted(out["connectors_checked"]) == sorted(NAMES) and out["not_checked"] == {}
    by_conn = {r["connector"]: r for r in got["records"]}
    assert {c: r["person"]["ref"] for c, r in by_conn.items()} == {
        v: VENDORS[v].person_ref(idx) for v in NAMES
    }
    assert by_conn[name]["matched_by"] == "reference" and by_conn[name]["strength"] == "given"
    assert all(r["matched_by"] == "email" for c, r in by_conn.items() if c != name)
    assert got["differences"] == [FIELD_OF[kind]]
    compared = {c["field"]: c for c in got["comparison"]}
    assert compared[FIELD_OF[kind]]["differs"] is True
    values = compared[FIELD_OF[kind]]["values"]
    odd = values[ref]
    assert all(v != odd for r, v in values.items() if r != ref)
    if kind == "consent":
        assert odd == "opted_out" and {v for r, v in values.items() if r != ref} == {"subscribed"}
    # matching ran on the whole address; the answer shows it masked
    text = json.dumps(out)
    assert person.email not in text and person.email.lower() not in text
    assert got["email"] == person.email[0] + "***@" + person.email.split("@")[1]
    row = [r for r in audit_rows(settings) if r["tool"] == "resolve_person"][-1]
    assert row["outcome"] == "ok" and ref in (row["records"] or "")
    assert sorted(row["connector"].split("+")) == sorted(NAMES)


async def test_resolve_person_by_email_any_spelling(connect):
    idx = drifted("owner", "hubspot")
    email = SEED.people[idx].email
    async with connect("assistant") as client:
        out = await ok(client, "resolve_person", {"emails": [f"  {email.upper()} ", email]})
    first, second = out["people"]
    assert first["records"] == second["records"]
    assert {r["person"]["ref"] for r in first["records"]} == {
        VENDORS[v].person_ref(idx) for v in NAMES
    }
    assert {r["strength"] for r in first["records"]} == {"strong"}
    owner = {c["field"]: c for c in first["comparison"]}["owner"]
    assert owner["differs"] and first["differences"] == ["owner"]
    hs_owner = SEED.owners[SEED.held_by("hubspot", SEED.people[idx]).owner_idx]
    assert owner["values"][VENDORS["hubspot"].person_ref(idx)].startswith(hs_owner.name)


async def test_name_and_company_is_a_weak_match_and_said_so(connect, runtime: Runtime):
    """When a connector holds no record of the address, a record with the same name and
    company is offered, labelled weak (it may be someone else)."""
    idx = drifted("lifecycle_stage", "marketo")
    hs = VENDORS["hubspot"]
    runtime.connectors.emulator("hubspot").set_person_field(
        hs.native(idx), "email", "someone.else@elsewhere.test"
    )
    async with connect("assistant") as client:
        out = await ok(client, "resolve_person", {"refs": [VENDORS["marketo"].person_ref(idx)]})
    [got] = out["people"]
    weak = [r for r in got["records"] if r["connector"] == "hubspot"]
    assert hs.person_ref(idx) in {r["person"]["ref"] for r in weak}
    assert {(r["matched_by"], r["strength"]) for r in weak} == {("name+company", "weak")}
    assert "weak" in out["how_matched"]


async def test_resolve_person_refusals_change_nothing_and_are_audited(connect, settings):
    async with connect("assistant") as client:
        nothing = await refused(client, "resolve_person", {})
        bad = await refused(client, "resolve_person", {"emails": ["not an address"]})
    async with connect("analyst") as client:  # reporting: no cross-system reads granted
        denied = await refused(client, "resolve_person", {"emails": ["a@b.test"]})
    assert "refs or emails" in nothing
    assert "cannot be normalised" in bad
    assert "not permitted" in denied or "default deny" in denied
    rows = [r for r in audit_rows(settings) if r["tool"] == "resolve_person"]
    assert [r["outcome"] for r in rows] == ["error", "error", "denied"]


def expected(connectors: tuple[str, ...]) -> dict[str, int]:
    """Drift between these connectors: the seed's drift held by one of them."""
    return {k: sum(d.kind == k and d.vendor in connectors for d in SEED.drift) for k in KINDS}


async def walk_drift(
    client: Any, args: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(50):
        page = await ok(client, "find_cross_system_drift", {**args, "cursor": cursor})
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items, page
    raise AssertionError("paging did not end")


async def test_drift_across_all_three_paged_consent_first(connect, settings):
    async with connect("assistant") as client:
        items, last = await walk_drift(client, {"limit": 10})
    assert last["counts"] == expected(tuple(NAMES)) and last["total"] == 36
    assert last["complete"] is True and sorted(last["connectors_checked"]) == sorted(NAMES)
    people = {
        tuple(sorted(r for v in i["by_connector"].values() for r in v["refs"])) for i in items
    }
    assert len(items) == len(people) == 36  # each once across the pages
    kinds = [i["kinds"] for i in items]
    assert kinds[:12] == [["consent"]] * 12  # consent drift first
    assert all(i["mailable_somewhere_not_elsewhere"] for i in items[:12])
    want = {
        (VENDORS[d.vendor].person_ref(d.idx), d.kind) for d in SEED.drift
    }  # the drifting vendor's record named under the right kind
    got = {
        (ref, i["kinds"][0])
        for i in items
        for view in i["by_connector"].values()
        for ref in view["refs"]
    }
    assert want <= got
    for i in items[:12]:
        statuses = {c: v["consent"] for c, v in i["by_connector"].items()}
        assert sorted(statuses.values()) == ["opted_out", "subscribed", "subscribed"]
    assert all("@" in i["email"] and "***" in i["email"] for i in items)
    rows = [r for r in audit_rows(settings) if r["tool"] == "find_cross_system_drift"]
    assert len(rows) == 4 and {r["outcome"] for r in rows} == {"ok"}


@pytest.mark.parametrize("pair", list(combinations(NAMES, 2)))
async def test_drift_between_two_connectors(pair, connect):
    async with connect("assistant") as client:
        page = await ok(client, "find_cross_system_drift", {"connectors": list(pair), "limit": 100})
        owners = await ok(
            client,
            "find_cross_system_drift",
            {"connectors": list(pair), "kinds": ["owner"], "limit": 100},
        )
    assert page["counts"] == expected(pair)
    assert page["total"] == len(page["items"]) == sum(expected(pair).values())
    assert {c for i in page["items"] for c in i["by_connector"]} == set(pair)
    assert owners["counts"] == {"owner": expected(pair)["owner"]}
    assert all(i["kinds"] == ["owner"] for i in owners["items"])


async def test_drift_cursor_is_bound_to_its_query(connect):
    async with connect("assistant") as client:
        page = await ok(client, "find_cross_system_drift", {"limit": 5})
        other = await refused(
            client,
            "find_cross_system_drift",
            {"limit": 5, "kinds": ["owner"], "cursor": page["next_cursor"]},
        )
    assert "different query" in other


@pytest.fixture
def owner_withheld_on_marketo(manifest_path: Path) -> Path:
    """The assistant may not read Marketo's lead owner in the cross-system reads."""
    with manifest_path.open("a", encoding="utf-8") as fh:
        fh.write(
            '\n[[rules]]\nid = "assistant-no-marketo-owner"\neffect = "deny"\n'
            'principals = ["assistant"]\ntools = ["resolve_person", "find_cross_system_drift"]\n'
            'connectors = ["marketo"]\nfields = ["externalSalesPersonId"]\n'
            'reason = "Lead routing is Salesforce\'s business."\n'
        )
    return manifest_path


async def test_a_value_you_may_not_read_is_never_compared(owner_withheld_on_marketo, connect):
    """Marketo holds this person under another owner, but the caller may not read Marketo's
    owner: saying the records differ would reveal it, so Marketo's record is left out of the
    comparison (named in not_compared) and the two readable records agree."""
    idx = drifted("owner", "marketo")
    async with connect("assistant") as client:
        out = await ok(client, "resolve_person", {"refs": [VENDORS["hubspot"].person_ref(idx)]})
        drift = await ok(client, "find_cross_system_drift", {"kinds": ["owner"]})
    [got] = out["people"]
    owner = {c["field"]: c for c in got["comparison"]}["owner"]
    marketo = VENDORS["marketo"].person_ref(idx)
    assert owner["not_compared"] == [marketo] and marketo not in owner["values"]
    assert owner["differs"] is False and got["differences"] == []
    mk_record = next(r for r in got["records"] if r["connector"] == "marketo")["person"]
    assert "externalSalesPersonId" not in mk_record["fields"]
    assert [w["field"] for w in mk_record["withheld"]] == ["externalSalesPersonId"]
    assert drift["counts"] == {"owner": expected(("hubspot", "salesforce"))["owner"]}


@pytest.fixture
def optout_withheld_on_marketo(manifest_path: Path) -> Path:
    """The assistant may not read Marketo's opt-out field in the cross-system reads."""
    with manifest_path.open("a", encoding="utf-8") as fh:
        fh.write(
            '\n[[rules]]\nid = "assistant-no-marketo-optout"\neffect = "deny"\n'
            'principals = ["assistant"]\ntools = ["resolve_person", "find_cross_system_drift"]\n'
            'connectors = ["marketo"]\nfields = ["unsubscribed"]\n'
            'reason = "Marketo subscriptions are the email team\'s business."\n'
        )
    return manifest_path


async def test_a_consent_status_read_off_a_withheld_field_is_never_compared(
    optout_withheld_on_marketo, connect
):
    """Marketo's consent status is read off its opt-out field: a caller that may not read that
    field must not learn it through the comparison or the drift list (that Marketo's record
    differs, or what it says). Marketo's record is left out of the consent comparison, its
    consent is shown as withheld, and Marketo's consent drift is not counted."""
    idx = drifted("consent", "marketo")
    async with connect("assistant") as client:
        out = await ok(client, "resolve_person", {"refs": [VENDORS["hubspot"].person_ref(idx)]})
        drift = await ok(client, "find_cross_system_drift", {"kinds": ["consent"]})
    [got] = out["people"]
    consent = {c["field"]: c for c in got["comparison"]}["consent"]
    marketo = VENDORS["marketo"].person_ref(idx)
    assert consent["not_compared"] == [marketo] and marketo not in consent["values"]
    assert consent["differs"] is False
    assert drift["counts"] == {"consent": expected(("hubspot", "salesforce"))["consent"]}
    views = [v for i in drift["items"] for v in i["by_connector"].values()]
    assert all(v["consent"] == "withheld" for v in views if any("marketo" in r for r in v["refs"]))
    assert all(marketo not in v["refs"] for v in views)

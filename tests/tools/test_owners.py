"""list_owners and propose_reassign_owner on every connector; what the emulators do with an
owner the vendor would refuse. Expectations come from the seed (as each vendor holds it)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from mopsgate.crm.records import PersonUpdate
from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.salesforce import ids as sf
from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows, text_of
from tests.server.e2e_support import approve
from tests.support.unpaced import unpaced_runtime  # noqa: F401 - the runtime fixture here
from tests.tools.seed_facts import NAMES, SEED, VENDORS
from tests.tools.test_reads_per_vendor import ok, refused

OWNER_REF = {"marketo": mk.owner_ref, "hubspot": hs.owner_ref, "salesforce": sf.owner_ref}
OWNER_FIELD = {"marketo": "externalSalesPersonId", "hubspot": "hubspot_owner_id"}
NATIVE_OWNER = {"marketo": mk.owner_field_value, "hubspot": hs.owner_id, "salesforce": sf.owner_id}
RUTH, MAYA = 3, 0  # Ruth Berg left the company; Maya Chen is active
WHY = "Ruth Berg left; her people go to Maya Chen (ticket 88)"


def owned(vendor: str) -> Counter[int]:
    return Counter(SEED.held_by(vendor, p).owner_idx for p in SEED.people)


def owner_field(vendor: str, ref: str) -> str:
    return OWNER_FIELD.get(vendor) or "OwnerId"


def owner_now(runtime: Runtime, vendor: str, ref: str) -> Any:
    raw = ref.split(":", 2)[2]
    native = int(raw) if vendor == "marketo" else raw
    return runtime.connectors.emulator(vendor).person_fields(native)[owner_field(vendor, ref)]


@pytest.mark.parametrize("name", NAMES)
async def test_list_owners_with_record_counts(name, connect, settings: Settings):
    async with connect("assistant") as client:
        out = await ok(client, "list_owners", {"connector": name})
        bare = await ok(client, "list_owners", {"connector": name, "record_counts": False})
    counts = owned(name)
    got = {(o["ref"], o["name"], o["active"], o["record_count"]) for o in out["owners"]}
    assert got == {(OWNER_REF[name](o.idx), o.name, o.active, counts[o.idx]) for o in SEED.owners}
    assert out["people_with_inactive_owner"] == sum(
        counts[o.idx] for o in SEED.owners if not o.active
    )
    assert all("***@" in o["email"] for o in out["owners"])  # PII masked for the assistant
    assert {o["record_count"] for o in bare["owners"]} == {None}
    row = next(r for r in audit_rows(settings) if r["tool"] == "list_owners")
    assert row["outcome"] == "ok" and row["connector"] == name


@pytest.mark.parametrize("name", NAMES)
async def test_reassign_in_batches_under_the_cap(name, connect, runtime: Runtime, settings):
    """Ruth Berg's people go to Maya Chen: the first proposal holds the cap's worth (200),
    says how many are left, is reviewed and applied; the owner field moves on the vendor."""
    ruth, maya = OWNER_REF[name](RUTH), OWNER_REF[name](MAYA)
    total = owned(name)[RUTH]
    async with connect("assistant") as client:
        plan = await ok(
            client,
            "propose_reassign_owner",
            {"connector": name, "from_owner": ruth, "to_owner": maya, "reason": WHY},
        )
        assert plan["risk_class"] == "lifecycle" and plan["records_total"] == 200
        assert f"{total - 200} more records owned by Ruth Berg" in plan["next_steps"]
        refs = [r["ref"] for r in plan["records"]]
        field = owner_field(name, refs[0])
        assert all(
            r["changes"]
            == [
                {
                    "field": field,
                    "before": str(NATIVE_OWNER[name](RUTH)),
                    "after": str(NATIVE_OWNER[name](MAYA)),
                }
            ]
            for r in plan["records"]
        )
        approve(settings, plan["change_id"])
        done = await client.call_tool(
            "apply_change",
            {"change_id": plan["change_id"], "confirmation_token": plan["confirmation_token"]},
        )
        assert not done.is_error, text_of(done)
        after = await ok(client, "list_owners", {"connector": name})
    assert done.structured_content["status"] == "applied"
    assert {str(owner_now(runtime, name, r)) for r in refs} == {str(NATIVE_OWNER[name](MAYA))}
    counts = {o["ref"]: o["record_count"] for o in after["owners"]}
    assert counts[ruth] == total - 200 and counts[maya] == owned(name)[MAYA] + 200
    rows = [r for r in audit_rows(settings) if r["change_id"] == plan["change_id"]]
    assert next((r["tool"], r["outcome"]) for r in rows) == ("propose_reassign_owner", "ok")
    assert rows[-1]["tool"] == "apply_change" and rows[-1]["outcome"] == "ok"


async def test_reassign_is_reverted_like_any_change(connect, runtime: Runtime, settings):
    """Between two active owners (the vendor would refuse to hand records back to one who
    left), filtered to one lifecycle stage; the revert puts every record back."""
    name, diego = "hubspot", 1
    maya, other = OWNER_REF[name](MAYA), OWNER_REF[name](diego)
    expected = [
        VENDORS[name].person_ref(p.idx)
        for p in SEED.people
        if SEED.held_by(name, p).owner_idx == MAYA
        and SEED.held_by(name, p).lifecycle_stage == "customer"
    ]
    async with connect("assistant") as client:
        plan = await ok(
            client,
            "propose_reassign_owner",
            {
                "connector": name,
                "from_owner": maya,
                "to_owner": other,
                "lifecycle_stage": "customer",
                "reason": WHY,
            },
        )
        refs = [r["ref"] for r in plan["records"]]
        assert sorted(refs) == sorted(expected) and "more records" not in plan["next_steps"]
        approve(settings, plan["change_id"])
        done = await client.call_tool(
            "apply_change",
            {"change_id": plan["change_id"], "confirmation_token": plan["confirmation_token"]},
        )
        assert done.structured_content["status"] == "applied", text_of(done)
        assert {owner_now(runtime, name, r) for r in refs} == {hs.owner_id(diego)}
        revert = await ok(
            client, "propose_revert", {"change_id": plan["change_id"], "reason": "wrong owner"}
        )
        assert revert["risk_class"] == "lifecycle"
        approve(settings, revert["change_id"])
        undone = await client.call_tool(
            "apply_change",
            {"change_id": revert["change_id"], "confirmation_token": revert["confirmation_token"]},
        )
        assert undone.structured_content["status"] == "applied", text_of(undone)
    assert {owner_now(runtime, name, r) for r in refs} == {hs.owner_id(MAYA)}


@pytest.mark.parametrize("name", NAMES)
async def test_reassign_refusals(name, connect, settings, runtime: Runtime):
    ruth, maya = OWNER_REF[name](RUTH), OWNER_REF[name](MAYA)
    base = {"connector": name, "reason": WHY}
    async with connect("assistant") as client:
        inactive = await refused(
            client, "propose_reassign_owner", {**base, "from_owner": maya, "to_owner": ruth}
        )
        by_name = await refused(
            client,
            "propose_reassign_owner",
            {**base, "from_owner": ruth, "to_owner": f"{name}:owner:MayaChen"},
        )
        same = await refused(
            client, "propose_reassign_owner", {**base, "from_owner": maya, "to_owner": maya}
        )
    assert "not an active owner" in inactive and maya in inactive
    assert "is not an owner" in by_name and "Maya Chen = " + maya in by_name
    assert "same owner" in same
    rows = [r for r in audit_rows(settings) if r["tool"] == "propose_reassign_owner"]
    assert [r["outcome"] for r in rows] == ["error"] * 3 and not any(r["change_id"] for r in rows)
    for vendor in NAMES:
        assert runtime.connectors.emulator(vendor).core.write_requests == []


@pytest.mark.parametrize("name", ["hubspot", "salesforce"])
async def test_the_vendor_refuses_an_inactive_owner_too(name, runtime: Runtime):
    """What Salesforce (INACTIVE_OWNER_OR_USER) and HubSpot (INVALID_OWNER_ID) document; the
    proposal refuses first, this is the vendor's own guard behind it."""
    idx = next(p.idx for p in SEED.people if p.owner_idx == MAYA)
    ref = VENDORS[name].person_ref(idx)
    client = runtime.connectors.get(name)
    update = PersonUpdate(ref=ref, fields={owner_field(name, ref): NATIVE_OWNER[name](RUTH)})
    [result] = await client.update_people([update])
    assert not result.ok
    code = {"hubspot": "INVALID_OWNER_ID", "salesforce": "INACTIVE_OWNER_OR_USER"}[name]
    assert code in f"{result.code} {result.message}"
    assert str(owner_now(runtime, name, ref)) == str(NATIVE_OWNER[name](MAYA))


async def test_no_revert_hands_records_back_to_an_owner_who_left(connect, settings):
    """Ruth Berg's customers went to Maya Chen; undoing that would route them to someone who
    left, so the revert is refused before anything is planned, saying whom to pick."""
    name = "salesforce"
    ruth, maya = OWNER_REF[name](RUTH), OWNER_REF[name](MAYA)
    async with connect("assistant") as client:
        plan = await ok(
            client,
            "propose_reassign_owner",
            {
                "connector": name,
                "from_owner": ruth,
                "to_owner": maya,
                "lifecycle_stage": "customer",
                "reason": WHY,
            },
        )
        approve(settings, plan["change_id"])
        done = await client.call_tool(
            "apply_change",
            {"change_id": plan["change_id"], "confirmation_token": plan["confirmation_token"]},
        )
        assert done.structured_content["status"] == "applied", text_of(done)
        text = await refused(
            client, "propose_revert", {"change_id": plan["change_id"], "reason": "undo the move"}
        )
        mine = await ok(client, "list_my_changes", {})
    assert "Ruth Berg" in text and "not an active owner" in text and maya in text
    assert [c["change_id"] for c in mine["changes"]] == [plan["change_id"]]

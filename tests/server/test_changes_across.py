"""Changes across connectors: one person opted out everywhere, people added to every system's
suppression list — one diff, one approval, one token, applied per connector with a
per-connector account; stale refusal and the compliance floor per connector."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.salesforce import ids as sf
from mopsgate.sandbox.seed import seed_data
from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows, text_of
from tests.server.e2e_support import approve
from tests.support.unpaced import unpaced_runtime  # noqa: F401 - the runtime fixture here

SEED = seed_data()
NAMES = ("marketo", "hubspot", "salesforce")
WHY = "The person asked to be unsubscribed from everything (ticket 4711)"
REF = {"marketo": mk.lead_ref, "hubspot": hs.person_ref, "salesforce": sf.person_ref}
NATIVE = {"marketo": mk.lead_id, "hubspot": hs.person_id, "salesforce": sf.person_id}
OPT_OUT_FIELD = {
    "marketo": "unsubscribed",
    "hubspot": "hs_email_optout",
    "salesforce": "HasOptedOutOfEmail",
}
SUPPRESSION = 6  # "Suppression - Competitors" on every vendor
LIST_REF = {"marketo": mk.list_ref, "hubspot": hs.list_ref, "salesforce": sf.list_ref}
LIST_ID = {"marketo": mk.list_id, "hubspot": hs.list_id, "salesforce": sf.list_id}


def opted_out(runtime: Runtime, name: str, idx: int) -> bool:
    value = runtime.connectors.emulator(name).person_fields(NATIVE[name](idx))[OPT_OUT_FIELD[name]]
    return value in (True, "true")


def members(runtime: Runtime, name: str, idx: int) -> set[str]:
    ids = runtime.connectors.emulator(name).list_member_ids(LIST_ID[name](SUPPRESSION))
    return {str(i) for i in ids}


async def call(client: Any, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, text_of(result)
    out: dict[str, Any] = result.structured_content
    return out


async def apply(client: Any, plan: dict[str, Any]) -> Any:
    return await client.call_tool(
        "apply_change",
        {"change_id": plan["change_id"], "confirmation_token": plan["confirmation_token"]},
    )


def consent_drift(vendor: str) -> int:
    return next(d.idx for d in SEED.drift if d.kind == "consent" and d.vendor == vendor)


def subscribed_quiet(n: int) -> list[int]:
    """Subscribed everywhere, in no list and no duplicate pair: safe to opt out."""
    busy = {i for lst in SEED.lists for i in lst.members} | {d.idx for d in SEED.drift}
    dupes = {p.duplicate_of for p in SEED.people} | {
        p.idx for p in SEED.people if p.duplicate_of is not None
    }
    return [
        p.idx
        for p in SEED.people[200:]
        if p.consent_status == "subscribed" and p.idx not in busy and p.idx not in dupes
    ][:n]


@pytest.mark.parametrize("vendor", NAMES)
async def test_opt_out_everywhere_fixes_consent_drift(
    vendor, connect, runtime: Runtime, settings: Settings
):
    """Opted out in one system, mailable in the others: one change opts them out on the
    other two (the first is a no-op), reviewed once, applied per connector."""
    idx = consent_drift(vendor)
    async with connect("assistant") as client:
        plan = await call(
            client,
            "propose_opt_out_everywhere",
            {"emails": [SEED.people[idx].email.upper()], "reason": WHY},
        )
        assert plan["risk_class"] == "consent" and plan["status"] == "proposed"
        assert sorted(plan["connector"].split("+")) == sorted(NAMES)
        actions = {r["ref"]: r["action"] for r in plan["records"]}
        assert actions == {REF[n](idx): ("noop" if n == vendor else "opt_out") for n in NAMES}
        assert plan["approvals"]["required"] == 1
        for name in NAMES:  # proposing wrote nothing anywhere
            assert runtime.connectors.emulator(name).core.write_requests == []
        approve(settings, plan["change_id"], reviewer="compliance")
        applied = await apply(client, plan)
        assert not applied.is_error, text_of(applied)
        done = applied.structured_content
        drift = await call(client, "find_cross_system_drift", {"kinds": ["consent"], "limit": 100})
    assert done["status"] == "applied"
    assert all(opted_out(runtime, n, idx) for n in NAMES)
    by = done["outcome"]["by_connector"]
    assert {n: (c["planned"], c["written"]) for n, c in by.items()} == {
        n: (0, 0) if n == vendor else (1, 1) for n in NAMES
    }
    assert drift["counts"]["consent"] == 11  # this one no longer drifts
    chain = [
        (r["kind"], r["tool"], r["outcome"])
        for r in audit_rows(settings)
        if r["change_id"] == plan["change_id"]
    ]
    assert chain == [
        ("tool_call", "propose_opt_out_everywhere", "ok"),
        ("review", "review approve", "ok"),
        ("change", "apply_change", "ok"),
        ("tool_call", "apply_change", "ok"),
    ]
    proposed = next(r for r in audit_rows(settings) if r["change_id"] == plan["change_id"])
    assert proposed["connector"] == plan["connector"]
    assert all(REF[n](idx) in proposed["records"] for n in NAMES)


async def test_stale_on_one_connector_writes_nothing_anywhere(
    connect, runtime: Runtime, settings: Settings
):
    [idx] = subscribed_quiet(1)
    async with connect("assistant") as client:
        plan = await call(
            client, "propose_opt_out_everywhere", {"refs": [REF["hubspot"](idx)], "reason": WHY}
        )
        approve(settings, plan["change_id"], reviewer="compliance")
        # someone records a legal basis on the Salesforce record between plan and apply
        runtime.connectors.emulator("salesforce").set_person_field(
            sf.person_id(idx), "Consent_Basis__c", "contract"
        )
        stale = await apply(client, plan)
        again = await call(client, "get_change", {"change_id": plan["change_id"]})
    assert stale.is_error and "stale" in text_of(stale) and "salesforce:" in text_of(stale)
    assert again["status"] == "stale"
    assert not any(opted_out(runtime, n, idx) for n in NAMES)
    for name in NAMES:
        writes = runtime.connectors.emulator(name).core.write_requests
        assert writes == [], (name, writes)


async def test_suppression_lists_everywhere_then_revert(
    connect, runtime: Runtime, settings: Settings
):
    """Opted-out people may join suppression lists (no list that feeds sends): the floor is
    asked per connector and blocks nobody; the revert removes them everywhere again."""
    people = [
        p.idx for p in SEED.people if p.consent_status == "opted_out" and p.duplicate_of is None
    ]
    people = [i for i in people if all(i not in lst.members for lst in SEED.lists)][:2]
    lists = [LIST_REF[n](SUPPRESSION) for n in NAMES]
    async with connect("assistant") as client:
        plan = await call(
            client,
            "propose_add_to_list_everywhere",
            {"list_refs": lists, "emails": [SEED.people[i].email for i in people], "reason": WHY},
        )
        assert plan["risk_class"] == "audience" and plan["blocked"] == []
        assert {r["ref"] for r in plan["records"]} == {REF[n](i) for n in NAMES for i in people}
        assert {r["action"] for r in plan["records"]} == {"add"}
        approve(settings, plan["change_id"])
        done = await apply(client, plan)
        assert not done.is_error, text_of(done)
        for name in NAMES:
            assert {str(NATIVE[name](i)) for i in people} <= members(runtime, name, people[0])
        revert = await call(
            client, "propose_revert", {"change_id": plan["change_id"], "reason": "added by mistake"}
        )
        assert revert["connector"] == plan["connector"]
        assert {r["action"] for r in revert["records"]} == {"remove"}
        approve(settings, revert["change_id"])
        undone = await apply(client, revert)
        assert not undone.is_error, text_of(undone)
    for name in NAMES:
        assert not {str(NATIVE[name](i)) for i in people} & members(runtime, name, people[0])


async def test_the_floor_is_checked_on_every_connector(connect, settings: Settings):
    """A send list on every system: an opted-out person is blocked on each, so nothing is
    left and the proposal is refused, naming a blocked record per connector."""
    idx = next(
        p.idx
        for p in SEED.people
        if p.consent_status == "opted_out"
        and p.duplicate_of is None
        and p.idx not in SEED.lists[0].members
    )
    async with connect("assistant") as client:
        result = await client.call_tool(
            "propose_add_to_list_everywhere",
            {
                "list_refs": [LIST_REF[n](0) for n in NAMES],
                "refs": [REF["marketo"](idx)],
                "reason": WHY,
            },
        )
    assert result.is_error
    text = text_of(result)
    assert "compliance" in text and all(REF[n](idx) in text for n in NAMES)
    row = [r for r in audit_rows(settings) if r["tool"] == "propose_add_to_list_everywhere"][-1]
    assert row["outcome"] == "denied" and row["rule_id"] == "compliance-floor"


@pytest.fixture
def two_connectors_only(manifest_path: Path) -> Path:
    """The assistant may change consent on Marketo and HubSpot, not on Salesforce."""
    text = manifest_path.read_text()
    old = '"propose_opt_out"]\nconnectors = ["*"]'
    assert old in text
    manifest_path.write_text(
        text.replace(
            old,
            '"propose_opt_out"]\nconnectors = ["marketo", "hubspot"]',
        )
    )
    return manifest_path


async def test_everywhere_means_every_connector_asked_for(
    two_connectors_only, connect, runtime: Runtime, settings: Settings
):
    [idx] = subscribed_quiet(1)
    async with connect("assistant") as client:
        refused = await client.call_tool(
            "propose_opt_out_everywhere", {"refs": [REF["marketo"](idx)], "reason": WHY}
        )
        fine = await call(
            client,
            "propose_opt_out_everywhere",
            {"refs": [REF["marketo"](idx)], "connectors": ["marketo", "hubspot"], "reason": WHY},
        )
    assert refused.is_error and "salesforce" in text_of(refused)
    assert "nothing was proposed" in text_of(refused)
    assert {r["ref"] for r in fine["records"]} == {REF["marketo"](idx), REF["hubspot"](idx)}
    rows = [r for r in audit_rows(settings) if r["tool"] == "propose_opt_out_everywhere"]
    assert [r["outcome"] for r in rows] == ["denied", "ok"]


async def test_a_failure_part_way_leaves_a_per_connector_account_and_a_finish(
    connect, runtime: Runtime, settings: Settings
):
    """HubSpot fails mid-apply: Marketo's part is written, HubSpot's batch unconfirmed,
    Salesforce's not attempted — each said per connector; propose_finish proposes exactly the
    rest, across the two connectors, and applying it completes the opt-out everywhere."""
    [idx] = subscribed_quiet(1)
    hubspot = runtime.connectors.emulator("hubspot")
    async with connect("assistant") as client:
        plan = await call(
            client, "propose_opt_out_everywhere", {"refs": [REF["marketo"](idx)], "reason": WHY}
        )
        assert plan["connector"] == "marketo+hubspot+salesforce"
        approve(settings, plan["change_id"], reviewer="compliance")
        hubspot.core.faults.fail_after_writes = 0
        failed = await apply(client, plan)
        hubspot.core.faults.fail_after_writes = None
        assert failed.is_error and "1 of 3 records written" in text_of(failed)
        shown = await call(client, "get_change", {"change_id": plan["change_id"]})
        finish = await call(
            client, "propose_finish", {"change_id": plan["change_id"], "reason": WHY}
        )
        approve(settings, finish["change_id"], reviewer="compliance")
        done = await apply(client, finish)
        assert not done.is_error, text_of(done)
    assert shown["status"] in ("failed", "partially_applied")  # never re-applied
    by = shown["outcome"]["by_connector"]
    assert by == {
        "marketo": {"planned": 1, "written": 1, "failed": 0, "not_attempted": 0},
        "hubspot": {"planned": 1, "written": 0, "failed": 1, "not_attempted": 0},
        "salesforce": {"planned": 1, "written": 0, "failed": 0, "not_attempted": 1},
    }
    assert "marketo 1 of 1 written; hubspot 0 of 1 written" in shown["outcome"]["detail"]
    assert finish["connector"] == "hubspot+salesforce"
    assert {r["ref"] for r in finish["records"]} == {REF["hubspot"](idx), REF["salesforce"](idx)}
    assert all(opted_out(runtime, n, idx) for n in NAMES)


async def test_recovery_re_reads_each_connector_with_its_own_client(
    connect, runtime: Runtime, settings: Settings
):
    """A process died mid-apply after Marketo's part: start-up recovery re-reads the records
    left without an outcome on their own connectors and records each as not written."""
    from mopsgate.crm.records import RecordResult
    from mopsgate.governance.recovering import recover_change

    [idx] = subscribed_quiet(1)
    async with connect("assistant") as client:
        plan = await call(
            client, "propose_opt_out_everywhere", {"refs": [REF["salesforce"](idx)], "reason": WHY}
        )
        approve(settings, plan["change_id"], reviewer="compliance")
        assert runtime.services is not None
        store = runtime.services.store
        await store.claim_for_apply(plan["change_id"], "nonce-of-a-dead-process")
        marketo = REF["marketo"](idx)
        await store.record_results(
            plan["change_id"],
            [(RecordResult(ref=marketo, ok=True), {"email_opt_out": True})],
        )
        assert await store.interrupted_ids() == [plan["change_id"]]
        found = await recover_change(store, plan["change_id"], runtime.connectors.get)
    assert found.error is None
    assert sorted(found.not_written) == sorted([REF["hubspot"](idx), REF["salesforce"](idx)])
    assert found.status == "failed"


@pytest.fixture
def leads_only(manifest_path: Path) -> Path:
    """The assistant may change consent on Salesforce Leads, not on Contacts."""
    text = manifest_path.read_text()
    old = '"propose_opt_out"]\nconnectors = ["*"]'
    assert old in text
    manifest_path.write_text(
        text.replace(old, '"propose_opt_out"]\nconnectors = ["*"]\nobjects = ["Lead"]')
    )
    return manifest_path


async def test_a_named_record_is_held_to_the_object_rule_too(
    leads_only, connect, runtime: Runtime, settings: Settings
):
    """A reference is not a way round the object rule: a Contact named directly is refused
    like one found by email, and nothing is proposed."""
    idx = next(i for i in subscribed_quiet(20) if sf.is_contact(i))
    async with connect("assistant") as client:
        refused = await client.call_tool(
            "propose_opt_out_everywhere",
            {"refs": [REF["salesforce"](idx)], "connectors": ["salesforce"], "reason": WHY},
        )
    assert refused.is_error and "Contact" in text_of(refused)
    assert "nothing was proposed" in text_of(refused)
    rows = [r for r in audit_rows(settings) if r["tool"] == "propose_opt_out_everywhere"]
    assert [r["outcome"] for r in rows] == ["denied"]

"""Races, upstream failures mid-apply and side-effect-free proposals (catalogue T-15, T-07,
U-10, T-22): a change is written at most once, and a failure leaves an exact account."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mcp import Client

from mopsgate.crm.records import PersonUpdate, RecordResult
from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.salesforce import ids as sf
from mopsgate.sandbox.seed import seed_data
from mopsgate.server.app import Runtime, build_runtime, build_server
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows, text_of
from tests.server.e2e_support import VENDORS, approve
from tests.server.test_changes_kit import (
    MK,
    NEWSLETTER_SEND,
    REASON,
    WELCOME_TRIGGER,
    apply,
    approved_send,
    call,
    cases_emulator,
    last_refusal,
    ok,
    people,
    propose_titles,
    status,
)
from tests.support.no_wait import no_wait_runtime

NEW = "Partly Written"


@pytest.fixture
def runtime(settings: Settings) -> Runtime:
    """Retries without waiting, so a persistent upstream failure costs milliseconds."""
    return no_wait_runtime(settings)


def _spy_updates(runtime: Runtime, name: str, monkeypatch) -> Counter[str]:
    """Counts, per record, the updates the vendor confirmed."""
    client = runtime.connectors.get(name)
    confirmed: Counter[str] = Counter()
    original = client.update_people

    async def update_people(updates: list[PersonUpdate]) -> list[RecordResult]:
        results = await original(updates)
        confirmed.update(r.ref for r in results if r.ok)
        return results

    monkeypatch.setattr(client, "update_people", update_people)
    return confirmed


async def test_two_concurrent_applies_write_once(connect, runtime: Runtime, settings):
    emu = runtime.connectors.emulator("marketo")
    async with connect("assistant") as one, connect("assistant") as two:
        plan = await propose_titles(one, MK, people("subscribed", 3))
        approve(settings, plan["change_id"])
        results = await asyncio.gather(apply(one, plan), apply(two, plan), apply(one, plan))
        wins = [r for r in results if not r.is_error]
        losses = [text_of(r) for r in results if r.is_error]
        assert len(wins) == 1 and wins[0].structured_content["status"] == "applied"
        assert len(losses) == 2
        assert all("already been used" in t or "is applying" in t for t in losses), losses
    assert len(emu.core.write_requests) == 1
    assert last_refusal(settings)["change_id"] == plan["change_id"]


async def test_failure_mid_batch_leaves_an_exact_account(
    connect, runtime: Runtime, settings: Settings, monkeypatch
):
    """150 HubSpot updates go out as two batches (100 + 50); the second batch fails."""
    v = VENDORS["hubspot"]
    emu = runtime.connectors.emulator("hubspot")
    confirmed = _spy_updates(runtime, "hubspot", monkeypatch)
    idxs = people("any", 150, start=600)
    refs = [v.ref(i) for i in idxs]
    async with connect("assistant") as client:
        plan = await propose_titles(client, v, idxs, NEW)
        approve(settings, plan["change_id"])
        emu.core.faults.fail_after_writes = 1
        result = await apply(client, plan)
        assert result.is_error and "100 of 150 records written" in text_of(result), text_of(result)
        assert "was partially applied" in text_of(result)
        change = await ok(client, "get_change", change_id=plan["change_id"])
        assert change["status"] == "partially_applied"
        outcome = change["outcome"]
        assert outcome["counts"] == {
            "planned": 150,
            "written": 100,
            "failed": 50,
            "not_attempted": 0,
            "unaccounted": 0,
        }
        assert outcome["written_refs"] == refs[:100]
        assert [f["ref"] for f in outcome["failed"]] == refs[100:]
        assert {f["code"] for f in outcome["failed"]} == {"not_written"}  # re-read after
        # The account matches the vendor's state exactly.
        titles = {r: emu.person_fields(v.native_of(r))["jobtitle"] for r in refs}
        assert [r for r in refs if titles[r] == NEW] == refs[:100]

        emu.core.faults.fail_after_writes = None
        writes = len(emu.core.write_requests)
        again = await apply(client, plan)
        assert again.is_error and "already been used" in text_of(again), text_of(again)
        assert len(emu.core.write_requests) == writes
        assert await status(client, plan["change_id"]) == "partially_applied"

        # The remainder is a new, reviewed change holding exactly the 50 unwritten records,
        # so no record is ever written twice.
        rest = await ok(client, "propose_finish", change_id=plan["change_id"], reason=REASON)
        assert [(r["ref"], r["action"]) for r in rest["records"]] == [
            (r, "update") for r in refs[100:]
        ]
        approve(settings, rest["change_id"])
        done = await apply(client, rest)
        assert not done.is_error, text_of(done)
    assert confirmed == Counter(dict.fromkeys(refs, 1))
    assert {emu.person_fields(v.native_of(r))["jobtitle"] for r in refs} == {NEW}


async def test_per_record_failure_is_reported_and_not_retried(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("marketo")
    idxs = people("subscribed", 3, start=700)
    refs = [MK.ref(i) for i in idxs]
    async with connect("assistant") as client:
        plan = await propose_titles(client, MK, idxs, NEW)
        approve(settings, plan["change_id"])
        emu.core.faults.fail_record_ids = {str(mk.lead_id(idxs[1]))}
        result = await apply(client, plan)
        assert not result.is_error, text_of(result)
        out = result.structured_content
        assert out["status"] == "partially_applied"
        assert out["status_detail"] == "partially applied: 2 of 3 records written, 1 failed"
        assert "propose_finish" in out["next_steps"]
        assert out["outcome"]["written_refs"] == [refs[0], refs[2]]
        assert [(f["ref"], f["code"]) for f in out["outcome"]["failed"]] == [(refs[1], "1003")]
        emu.core.faults.fail_record_ids = set()
        again = await apply(client, plan)
        assert again.is_error
    assert len(emu.core.write_requests) == 1
    assert emu.person_fields(mk.lead_id(idxs[1]))["title"] != NEW


def _propose_calls(vendor: str) -> list[tuple[str, dict[str, Any]]]:
    v = VENDORS[vendor]
    sub = [v.ref(i) for i in people("subscribed", 2, start=900, not_in=v.list_idx)]
    member = [v.ref(i) for i in sorted(seed_data().lists[v.list_idx].members)[:2]]
    run_at = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    campaign = {"marketo": mk.program_ref(1), "hubspot": hs.campaign_ref(1)}.get(
        vendor, sf.campaign_ref(1)
    )
    trigger = WELCOME_TRIGGER if vendor == "marketo" else campaign
    schedule = NEWSLETTER_SEND if vendor == "marketo" else campaign
    return [
        ("propose_update_person", {"refs": sub, "fields": {v.title_field: "No Write"}}),
        ("propose_add_to_list", {"list_ref": v.list_ref, "person_refs": sub}),
        ("propose_remove_from_list", {"list_ref": v.list_ref, "person_refs": member}),
        ("propose_opt_out", {"connector": vendor, "person_refs": sub}),
        ("propose_delete_person", {"connector": vendor, "person_refs": sub}),
        ("propose_trigger_campaign", {"campaign_ref": trigger, "person_refs": sub}),
        ("propose_schedule_campaign", {"campaign_ref": schedule, "run_at": run_at}),
        (
            "propose_set_campaign_status",
            {"campaign_ref": campaign, "person_refs": sub, "status": "Registered"},
        ),
    ]


BASIC = {
    "propose_update_person",
    "propose_add_to_list",
    "propose_remove_from_list",
    "propose_opt_out",
}
# What each vendor can plan; the rest is refused (delete by the manifest, schedules by the
# floor or the vendor, triggers and statuses where the vendor has no such API, and statuses
# for these non-members on Salesforce, which sets a status only on members).
PLANNED = {
    "marketo": BASIC | {"propose_trigger_campaign", "propose_set_campaign_status"},
    "hubspot": BASIC,
    "salesforce": BASIC,
}


async def test_propose_tools_never_write_upstream(connect, runtime, settings):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor_name in sorted(VENDORS):
            v = VENDORS[vendor_name]
            emu = cases_emulator(runtime, vendor_name)
            planned: set[str] = set()
            for tool, args in _propose_calls(vendor_name):
                result = await call(client, tool, **args, reason=REASON)
                if not result.is_error:
                    planned.add(tool)
                assert emu.core.write_requests == [], (vendor_name, tool)
            # propose_revert plans from an applied change; only the apply writes.
            plan = await propose_titles(client, v, people("subscribed", 1, start=950))
            approve(settings, plan["change_id"])
            assert not (await apply(client, plan)).is_error, vendor_name
            emu.core.reset_log()
            await ok(client, "propose_revert", change_id=plan["change_id"], reason=REASON)
            assert emu.core.write_requests == [], vendor_name
            assert planned == PLANNED[vendor_name], vendor_name


async def test_restart_after_a_crash_mid_apply_settles_the_account(
    connect, runtime: Runtime, settings: Settings
):
    """A process that died mid-apply left the change applying with no per-record results,
    although the vendor had written one of its two records. The next start re-reads both,
    records exactly what the vendor holds, audits the recovery, and propose_finish offers
    exactly the record that was not written; applying it writes it once."""
    emu = runtime.connectors.emulator("marketo")
    idxs = people("subscribed", 2, start=1000)
    refs = [MK.ref(i) for i in idxs]
    async with connect("assistant") as client:
        plan = await propose_titles(client, MK, idxs, NEW)
        approve(settings, plan["change_id"])
        await runtime.require_services().store.claim_for_apply(plan["change_id"], "dead-process")
    emu.set_person_field(MK.native(idxs[0]), "title", NEW)  # the vendor got that far
    again = build_runtime(settings, env={}, emulators=runtime.connectors.emulators)
    server = build_server(again, transport="memory", resolve_principal=lambda _: "assistant")
    async with Client(server) as client:
        change = await ok(client, "get_change", change_id=plan["change_id"])
        assert change["status"] == "partially_applied", change
        counts = change["outcome"]["counts"]
        assert counts == {
            "planned": 2, "written": 1, "failed": 1, "not_attempted": 0, "unaccounted": 0
        }  # fmt: skip
        assert change["outcome"]["written_refs"] == [refs[0]]
        assert [(f["ref"], f["code"]) for f in change["outcome"]["failed"]] == [
            (refs[1], "not_written")
        ]
        rows = [r for r in audit_rows(settings) if r["kind"] == "recovery"]
        assert [(r["change_id"], r["outcome"], r["principal"]) for r in rows] == [
            (plan["change_id"], "ok", "(system)")
        ]
        assert "1 written, 1 not written" in rows[0]["result_summary"]
        assert rows[0]["upstream_calls"] >= 1
        assert (await apply(client, plan)).is_error  # never applied again
        rest = await ok(client, "propose_finish", change_id=plan["change_id"], reason=REASON)
        assert [(r["ref"], r["action"]) for r in rest["records"]] == [(refs[1], "update")]
        assert rest["finish_of"] == plan["change_id"]
        assert (await ok(client, "get_change", change_id=plan["change_id"]))["finished_by"] == rest[
            "change_id"
        ]
        approve(settings, rest["change_id"])
        emu.core.reset_log()
        done = await apply(client, rest)
        assert not done.is_error and done.structured_content["status"] == "applied"
        twice = await call(client, "propose_finish", change_id=plan["change_id"], reason=REASON)
        assert twice.is_error and "already being finished" in text_of(twice)
    assert len(emu.core.write_requests) == 1
    assert {emu.person_fields(MK.native(i))["title"] for i in idxs} == {NEW}


async def test_a_send_of_unknown_outcome_is_never_finished(
    connect, runtime: Runtime, settings: Settings
):
    """The trigger call failed upstream, so whether the emails went out is unknown: asking
    to finish it is refused rather than risk emailing someone twice."""
    emu = runtime.connectors.emulator("marketo")
    idxs = people("subscribed", 2, start=20)
    async with connect("assistant") as client:
        plan = await approved_send(client, settings, idxs)
        emu.core.faults.fail_after_writes = 0
        assert (await apply(client, plan)).is_error
        emu.core.faults.fail_after_writes = None
        writes = len(emu.core.write_requests)
        text = text_of(
            await call(client, "propose_finish", change_id=plan["change_id"], reason=REASON)
        )
        assert "may or may not have been sent" in text and "never repeated blind" in text, text
        applied = await propose_titles(client, MK, people("subscribed", 1, start=1100))
        approve(settings, applied["change_id"])
        assert not (await apply(client, applied)).is_error
        nothing = text_of(
            await call(client, "propose_finish", change_id=applied["change_id"], reason=REASON)
        )
        assert "only a change that failed part-way" in nothing, nothing
    assert len(emu.core.write_requests) == writes + 1 and emu.triggered == []
    assert last_refusal(settings, "propose_finish")["error_code"] == "change_refused"

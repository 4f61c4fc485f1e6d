"""The compliance floor and staleness (catalogue C-03, I-16, I-17, T-13, T-17, G): no manifest
and no timing lowers them, and a refusal writes nothing upstream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.seed import seed_data
from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows, text_of
from tests.server.e2e_support import VENDORS, approve
from tests.server.test_changes_kit import (
    MK,
    NEWSLETTER_LIST,
    NEWSLETTER_SEND,
    OPT_OUT_FIELD,
    REASON,
    WELCOME_TRIGGER,
    apply,
    approved_send,
    cli,
    last_refusal,
    ok,
    people,
    propose_titles,
    refused,
    status,
)


async def test_target_edited_between_plan_and_apply_is_stale(
    connect, runtime: Runtime, settings: Settings
):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor_name in sorted(VENDORS):
            seen = len(audit_rows(settings))
            v = VENDORS[vendor_name]
            emu = runtime.connectors.emulator(v.name)
            idxs = people("subscribed", 3, start=200)
            plan = await propose_titles(client, v, idxs)
            approve(settings, plan["change_id"])
            edited = v.ref(idxs[1])
            emu.set_person_field(v.native_of(edited), v.title_field, "Edited By Hand")
            result = await apply(client, plan)
            text = text_of(result)
            assert result.is_error and "[stale]" in text, text
            assert f"{edited} {v.title_field} was" in text and "'Edited By Hand'" in text
            assert v.ref(idxs[0]) not in text  # only what moved is named
            assert last_refusal(settings, since=seen)["error_code"] == "stale"
            assert await status(client, plan["change_id"]) == "stale"
            again = await apply(client, plan)
            assert again.is_error  # stale is final: the token cannot be tried again
            assert emu.core.write_requests == []


async def test_manifest_changed_between_plan_and_apply_is_stale(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("marketo")
    async with connect("assistant") as client:
        plan = await propose_titles(client, MK, people("subscribed", 2))
        approve(settings, plan["change_id"])
        path = settings.manifest_path
        text = path.read_text()
        path.write_text(text.replace("calls_per_minute = 120", "calls_per_minute = 90", 1))
        result = await apply(client, plan)
        assert result.is_error and "the manifest changed" in text_of(result), text_of(result)
        assert await status(client, plan["change_id"]) == "stale"
    assert emu.core.write_requests == []
    assert last_refusal(settings)["error_code"] == "stale"


async def test_approved_send_triggers_once(connect, runtime: Runtime, settings: Settings):
    emu = runtime.connectors.emulator("marketo")
    idxs = people("subscribed", 2, start=20)
    async with connect("assistant") as client:
        plan = await approved_send(client, settings, idxs)
        result = await apply(client, plan)
        assert not result.is_error, text_of(result)
        assert result.structured_content["status"] == "applied"
    assert len(emu.triggered) == 1 and len(emu.core.write_requests) == 1
    assert emu.triggered[0]["campaign_id"] == MK.native_of(WELCOME_TRIGGER)
    assert sorted(emu.triggered[0]["lead_ids"]) == sorted(MK.native(i) for i in idxs)


async def test_opt_out_between_plan_and_trigger_blocks_the_send(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("marketo")
    idxs = people("subscribed", 3)
    async with connect("assistant") as client:
        plan = await approved_send(client, settings, idxs)
        emu.set_person_field(MK.native(idxs[2]), "unsubscribed", True)
        result = await apply(client, plan)
        text = text_of(result)
        assert result.is_error and f"{MK.ref(idxs[2])} is now opted out of email" in text, text
        assert await status(client, plan["change_id"]) == "stale"
    assert emu.core.write_requests == [] and emu.triggered == []
    assert last_refusal(settings)["change_id"] == plan["change_id"]


async def test_opt_out_between_plan_and_add_to_send_list_blocks_it(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("marketo")
    idxs = people("subscribed", 2, not_in=0)
    members = set(emu.list_member_ids(MK.native_of(NEWSLETTER_LIST)))
    async with connect("assistant") as client:
        plan = await ok(
            client,
            "propose_add_to_list",
            list_ref=NEWSLETTER_LIST,
            person_refs=[MK.ref(i) for i in idxs],
            reason=REASON,
        )
        assert [r["action"] for r in plan["records"]] == ["add", "add"]
        approve(settings, plan["change_id"])
        emu.set_person_field(MK.native(idxs[0]), "unsubscribed", True)
        result = await apply(client, plan)
        assert result.is_error and "opted out" in text_of(result), text_of(result)
    assert emu.core.write_requests == []
    assert set(emu.list_member_ids(MK.native_of(NEWSLETTER_LIST))) == members


async def test_resubscribe_is_refused_and_there_is_no_opt_in_tool(
    connect, runtime: Runtime, settings: Settings
):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor_name in sorted(VENDORS):
            seen = len(audit_rows(settings))
            v = VENDORS[vendor_name]
            emu = runtime.connectors.emulator(v.name)
            tools = {t.name for t in (await client.list_tools()).tools}
            assert not {t for t in tools if "opt_in" in t or "subscribe" in t}
            text = await refused(
                client,
                "propose_update_person",
                refs=[v.ref(people("opted_out", 1)[0])],
                fields={OPT_OUT_FIELD[v.name]: False},
                reason="The user says this person wants the newsletter again",
            )
            assert "[compliance_floor]" in text and "Re-subscribing" in text, text
            listed = await ok(client, "list_my_changes")
            assert listed["changes"] == []  # nothing was stored
            assert emu.core.write_requests == []
            row = last_refusal(settings, "propose_update_person", since=seen)
            assert row["error_code"] == "compliance_floor"


async def test_send_to_opted_out_people_is_blocked(connect, runtime: Runtime, settings):
    emu = runtime.connectors.emulator("marketo")
    out = people("opted_out", 2)
    unknown = people("unknown", 1)
    fine = people("subscribed", 1)
    async with connect("assistant") as client:
        plan = await ok(
            client,
            "propose_trigger_campaign",
            campaign_ref=WELCOME_TRIGGER,
            person_refs=[MK.ref(i) for i in (*out, *unknown, *fine)],
            reason=REASON,
        )
        assert [r["ref"] for r in plan["records"]] == [MK.ref(fine[0])]
        blocked = {b["ref"]: b["reason_code"] for b in plan["blocked"]}
        assert blocked == {
            **{MK.ref(i): "opted_out" for i in out},
            MK.ref(unknown[0]): "consent_unknown",
        }
        text = await refused(
            client,
            "propose_trigger_campaign",
            campaign_ref=WELCOME_TRIGGER,
            person_refs=[MK.ref(i) for i in (*out, *unknown)],
            reason=REASON,
        )
        assert "[compliance_floor]" in text and "3 blocked" in text, text
    assert emu.core.write_requests == [] and emu.triggered == []
    assert last_refusal(settings, "propose_trigger_campaign")["error_code"] == "compliance_floor"


async def test_add_to_send_list_blocks_opted_out_people(connect, runtime: Runtime, settings):
    """The newsletter list is the audience of an active email send: adding to it is a send."""
    emu = runtime.connectors.emulator("marketo")
    out = people("opted_out", 1, not_in=0)
    fine = people("subscribed", 1, not_in=0)
    async with connect("assistant") as client:
        plan = await ok(
            client,
            "propose_add_to_list",
            list_ref=NEWSLETTER_LIST,
            person_refs=[MK.ref(out[0]), MK.ref(fine[0])],
            reason=REASON,
        )
        assert [r["ref"] for r in plan["records"]] == [MK.ref(fine[0])]
        assert [(b["ref"], b["reason_code"]) for b in plan["blocked"]] == [
            (MK.ref(out[0]), "opted_out")
        ]
        text = await refused(
            client,
            "propose_add_to_list",
            list_ref=NEWSLETTER_LIST,
            person_refs=[MK.ref(out[0])],
            reason=REASON,
        )
        assert "[compliance_floor]" in text
    assert emu.core.write_requests == []


async def test_schedule_with_opted_out_audience_is_refused(connect, runtime: Runtime, settings):
    emu = runtime.connectors.emulator("marketo")
    run_at = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    async with connect("assistant") as client:
        text = await refused(
            client,
            "propose_schedule_campaign",
            campaign_ref=NEWSLETTER_SEND,
            run_at=run_at,
            reason=REASON,
        )
        assert "[compliance_floor]" in text and "opted out" in text, text
    assert emu.core.write_requests == [] and emu.scheduled == []
    assert last_refusal(settings, "propose_schedule_campaign")["error_code"] == "compliance_floor"


async def test_opt_out_round_trip_and_no_revert(connect, runtime: Runtime, settings: Settings):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor_name in sorted(VENDORS):
            seen = len(audit_rows(settings))
            v = VENDORS[vendor_name]
            emu = runtime.connectors.emulator(v.name)
            idxs = people("subscribed", 2, start=300)
            field = OPT_OUT_FIELD[v.name]
            plan = await ok(
                client,
                "propose_opt_out",
                connector=v.name,
                person_refs=[v.ref(i) for i in idxs],
                reason="They replied STOP to the last email",
            )
            assert plan["risk_class"] == "consent"
            assert all(
                r["changes"] == [{"field": "email_opt_out", "before": False, "after": True}]
                for r in plan["records"]
            )
            assert emu.core.write_requests == []
            approve(settings, plan["change_id"], "compliance")
            applied = await apply(client, plan)
            assert not applied.is_error, text_of(applied)
            assert applied.structured_content["status"] == "applied"
            for i in idxs:
                assert emu.person_fields(v.native_of(v.ref(i)))[field] in (True, "true")
            writes = len(emu.core.write_requests)
            text = await refused(
                client, "propose_revert", change_id=plan["change_id"], reason="Undo that opt-out"
            )
            assert "[compliance_floor]" in text and "re-subscribing" in text, text
            assert len(emu.core.write_requests) == writes
            assert (
                last_refusal(settings, "propose_revert", since=seen)["error_code"]
                == "compliance_floor"
            )


async def test_record_cap_and_hourly_rate_catch_salami_slicing(
    connect, runtime: Runtime, settings: Settings
):
    """200 records per change, 2,000 per hour (shipped manifest): splitting a refused change
    into small ones works until the hourly budget is spent."""
    emu = runtime.connectors.emulator("marketo")
    idxs = people("any", 2001)
    async with connect("assistant") as client:
        text = await refused(
            client,
            "propose_update_person",
            refs=[MK.ref(i) for i in idxs[:201]],
            fields={"title": "Bulk"},
            reason=REASON,
        )
        assert "touches 201 records; the cap" in text and "is 200" in text, text
        assert last_refusal(settings, "propose_update_person")["rule_id"] == "record-cap"
        for n in range(10):
            await propose_titles(client, MK, idxs[n * 200 : (n + 1) * 200], "Bulk")
        text = await refused(
            client,
            "propose_update_person",
            refs=[MK.ref(idxs[2000])],
            fields={"title": "Bulk"},
            reason=REASON,
        )
        assert "[rate_limited]" in text and "2000 records per hour" in text, text
        mine = await ok(client, "list_my_changes", limit=100)
        assert len(mine["changes"]) == 10
    assert emu.core.write_requests == []
    row = last_refusal(settings, "propose_update_person")
    assert row["rule_id"] == "rate-limit" and row["decision"] == "denied"


async def test_freeze_stops_applies_until_unfrozen(connect, runtime: Runtime, settings):
    emu = runtime.connectors.emulator("marketo")
    async with connect("assistant") as client:
        plan = await propose_titles(client, MK, people("subscribed", 2))
        approve(settings, plan["change_id"])
        froze = cli(settings, "freeze", "--reason", "incident 42", "--by", "oncall")
        assert froze.exit_code == 0, froze.output
        result = await apply(client, plan)
        assert result.is_error and "[frozen]" in text_of(result)
        assert "incident 42" in text_of(result) and "mopsgate unfreeze" in text_of(result)
        assert await status(client, plan["change_id"]) == "approved"
        assert emu.core.write_requests == []
        other = await propose_titles(client, MK, people("subscribed", 1, start=500))
        assert other["applies_frozen"] and "incident 42" in other["applies_frozen"]
        assert cli(settings, "unfreeze", "--by", "oncall").exit_code == 0
        result = await apply(client, plan)
        assert not result.is_error, text_of(result)
    assert len(emu.core.write_requests) == 1
    kinds = [(r["tool"], r["principal"]) for r in audit_rows(settings) if r["kind"] == "freeze"]
    assert kinds == [("freeze", "oncall"), ("unfreeze", "oncall")]
    assert last_refusal(settings)["error_code"] == "frozen"


async def test_schedule_with_a_clean_audience_goes_through(connect, runtime: Runtime, settings):
    """The other side of the floor: once the audience holds only sendable people, a schedule
    is planned, approved by two reviewers (one compliance) and applied once."""
    emu = runtime.connectors.emulator("marketo")
    webinar_send, audience = mk.smart_campaign_ref(1), mk.list_id(1)
    sendable = {p.idx for p in seed_data().people if p.consent_status == "subscribed"}
    for lead in emu.list_member_ids(audience):
        if mk.lead_idx(lead) not in sendable:
            emu.state.remove_list_member(audience, lead)
    run_at = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    async with connect("assistant") as client:
        plan = await ok(
            client,
            "propose_schedule_campaign",
            campaign_ref=webinar_send,
            run_at=run_at.isoformat(),
            reason=REASON,
        )
        assert plan["records"][0]["changes"][0]["after"] == run_at.isoformat()
        approve(settings, plan["change_id"], "mops-lead")
        approve(settings, plan["change_id"], "compliance")
        result = await apply(client, plan)
        assert not result.is_error, text_of(result)
        assert result.structured_content["status"] == "applied"
    assert len(emu.scheduled) == 1 and len(emu.core.write_requests) == 1

"""People in express-consent countries without consent evidence are never emailed (catalogue C-04).

The seed holds four subscribed people in Canada whose records carry no consent evidence
(``sandbox.seed.NO_CONSENT_EVIDENCE``): CASL asks for express consent with proof, so the floor
blocks them from send lists, triggers and schedules on every vendor, names the reason in the
plan's diff, writes nothing and audits the proposal. The manifest may add countries and name
the evidence field; it cannot take Canada out, and the assistant cannot forge the evidence.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mopsgate.governance.consent_floor import express_consent
from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.seed import NO_CONSENT_EVIDENCE, seed_data
from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows, text_of
from tests.server.e2e_support import VENDORS, approve
from tests.server.test_changes_kit import (
    MK,
    REASON,
    WELCOME_TRIGGER,
    apply,
    cases_emulator,
    last_refusal,
    ok,
    refused,
)
from tests.server.test_floor_duplicates import WEBINAR, _webinar_audience_of_sendable_people
from tests.server.test_send_lists_floor import LIST_REF, members_of, outsiders

SEED = seed_data()
EVIDENCE = {"marketo": "consentEvidence", "hubspot": "consent_evidence"}
CODE = "express_consent_missing"


def evidence_field(vendor: str, idx: int) -> str:
    if vendor != "salesforce":
        return EVIDENCE[vendor]
    return "Consent_Evidence__c"


def test_the_seed_holds_canadians_without_evidence_and_nobody_else():
    for i in NO_CONSENT_EVIDENCE:
        p = SEED.people[i]
        assert (p.country, p.consent_status, p.consent_evidence) == ("CA", "subscribed", None)
    others = [p for p in SEED.people if p.legal_basis and p.idx not in NO_CONSENT_EVIDENCE]
    assert all(p.consent_evidence for p in others)


async def test_a_canadian_without_evidence_is_kept_out_of_a_send_list(
    connect, runtime: Runtime, settings: Settings
):
    """Each vendor in turn, on one server (each has its own emulator, list and log)."""
    allowed = outsiders(0)["subscribed"]
    bad = NO_CONSENT_EVIDENCE[0]
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            v = VENDORS[vendor]
            emu = cases_emulator(runtime, vendor)
            before = members_of(runtime, vendor, 0)
            seen = len(audit_rows(settings))
            plan = await ok(
                client,
                "propose_add_to_list",
                list_ref=LIST_REF[vendor](0),
                person_refs=[v.ref(allowed), v.ref(bad)],
                reason=REASON,
            )
            [blocked] = plan["blocked"]
            assert blocked["ref"] == v.ref(bad) and blocked["reason_code"] == CODE, blocked
            assert evidence_field(vendor, bad) in blocked["reason"], (vendor, blocked)
            assert "CA" in blocked["reason"], (vendor, blocked)
            assert v.ref(bad) in plan["diff_text"], vendor
            assert "consent evidence" in plan["diff_text"], vendor
            approve(settings, plan["change_id"])
            done = await apply(client, plan)
            assert not done.is_error, (vendor, text_of(done))
            written = done.structured_content["outcome"]["written_refs"]
            assert written == [v.ref(allowed)], vendor
            assert members_of(runtime, vendor, 0) - before == {str(v.native(allowed))}, vendor
            assert len(emu.core.write_requests) == 1, vendor
            [row] = [r for r in audit_rows(settings)[seen:] if r["tool"] == "propose_add_to_list"]
            assert f"{v.ref(bad)} ({CODE})" in row["result_summary"], vendor


async def test_a_send_list_of_only_such_people_is_refused(
    connect, runtime: Runtime, settings: Settings
):
    """Each vendor in turn, on one server (each has its own emulator and log)."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            v = VENDORS[vendor]
            emu = cases_emulator(runtime, vendor)
            refs = [v.ref(i) for i in NO_CONSENT_EVIDENCE]
            seen = len(audit_rows(settings))
            text = await refused(
                client,
                "propose_add_to_list",
                list_ref=LIST_REF[vendor](0),
                person_refs=refs,
                reason=REASON,
            )
            assert "[compliance_floor]" in text and f"{refs[0]} ({CODE})" in text, (vendor, text)
            assert emu.core.write_requests == [], vendor
            row = last_refusal(settings, "propose_add_to_list", since=seen)
            assert row["error_code"] == "compliance_floor", vendor
            assert CODE in row["result_summary"], vendor


async def test_a_trigger_for_them_is_refused(connect, runtime: Runtime, settings: Settings):
    emu = runtime.connectors.emulator("marketo")
    async with connect("assistant") as client:
        text = await refused(
            client,
            "propose_trigger_campaign",
            campaign_ref=WELCOME_TRIGGER,
            person_refs=[MK.ref(i) for i in NO_CONSENT_EVIDENCE],
            reason=REASON,
        )
    assert "[compliance_floor]" in text and CODE in text, text
    assert emu.core.write_requests == [] and emu.triggered == []
    assert last_refusal(settings, "propose_trigger_campaign")["error_code"] == "compliance_floor"


async def test_a_schedule_whose_audience_holds_one_is_refused(
    connect, runtime: Runtime, settings: Settings
):
    """Someone outside mopsgate put a Canadian without evidence into an otherwise clean
    audience: the whole schedule is refused, naming them (only Marketo schedules by API)."""
    emu = runtime.connectors.emulator("marketo")
    audience = _webinar_audience_of_sendable_people(runtime)
    bad = NO_CONSENT_EVIDENCE[1]
    emu.state.add_list_member(audience, MK.native(bad), "2026-01-01T00:00:00Z")
    run_at = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    async with connect("assistant") as client:
        text = await refused(
            client,
            "propose_schedule_campaign",
            campaign_ref=mk.smart_campaign_ref(WEBINAR),
            run_at=run_at,
            reason=REASON,
        )
    assert "[compliance_floor]" in text and f"{MK.ref(bad)} ({CODE})" in text, text
    assert emu.core.write_requests == [] and emu.scheduled == []
    assert last_refusal(settings, "propose_schedule_campaign")["error_code"] == "compliance_floor"


async def test_evidence_removed_after_approval_stops_the_send(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("marketo")
    canadian = next(
        p.idx
        for p in SEED.people
        if p.country == "CA"
        and p.consent_status == "subscribed"
        and p.consent_evidence
        and p.duplicate_of is None
    )
    async with connect("assistant") as client:
        plan = await ok(
            client,
            "propose_trigger_campaign",
            campaign_ref=WELCOME_TRIGGER,
            person_refs=[MK.ref(canadian)],
            reason=REASON,
        )
        approve(settings, plan["change_id"], "mops-lead")
        approve(settings, plan["change_id"], "compliance")
        emu.set_person_field(MK.native(canadian), "consentEvidence", None)
        result = await apply(client, plan)
    assert result.is_error and "consent evidence" in text_of(result), text_of(result)
    assert emu.core.write_requests == [] and emu.triggered == []
    assert last_refusal(settings)["change_id"] == plan["change_id"]


async def test_the_assistant_cannot_write_consent_evidence(
    connect, runtime: Runtime, settings: Settings
):
    """Each vendor in turn, on one server (each has its own emulator and log)."""
    bad = NO_CONSENT_EVIDENCE[0]
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            v = VENDORS[vendor]
            emu = runtime.connectors.emulator(vendor)
            seen = len(audit_rows(settings))
            text = await refused(
                client,
                "propose_update_person",
                refs=[v.ref(bad)],
                fields={evidence_field(vendor, bad): "double opt-in 2026-01-01"},
                reason=REASON,
            )
            assert "consent" in text, (vendor, text)
            assert emu.core.write_requests == [], vendor
            row = last_refusal(settings, "propose_update_person", since=seen)
            assert row["decision"] in ("denied", "error"), vendor


def _add_to_marketo(manifest_path: Path, lines: str) -> None:
    text = manifest_path.read_text()
    head = '[connectors.marketo]\nenvironment = "sandbox"\n'
    assert head in text
    manifest_path.write_text(text.replace(head, head + lines))


async def test_the_manifest_adds_countries_but_cannot_remove_canada(
    connect, runtime: Runtime, settings: Settings, manifest_path: Path
):
    emu = runtime.connectors.emulator("marketo")
    german = next(
        p.idx
        for p in SEED.people
        if p.country == "DE"
        and p.consent_status == "subscribed"
        and p.duplicate_of is None
        and p.idx not in SEED.lists[0].members
    )
    emu.set_person_field(MK.native(german), "consentEvidence", None)
    refs = [MK.ref(german), MK.ref(NO_CONSENT_EVIDENCE[0])]

    async def blocked() -> dict[str, str]:
        async with connect("assistant") as client:
            result = await client.call_tool(
                "propose_add_to_list",
                {"list_ref": LIST_REF["marketo"](0), "person_refs": refs, "reason": REASON},
            )
        if result.is_error:
            return {r: CODE for r in refs if f"{r} ({CODE})" in text_of(result)}
        return {b["ref"]: b["reason_code"] for b in result.structured_content["blocked"]}

    assert await blocked() == {refs[1]: CODE}  # Germany is not an express-consent country yet
    _add_to_marketo(manifest_path, 'express_consent_countries = ["DE", "Germany"]\n')
    assert await blocked() == {refs[0]: CODE, refs[1]: CODE}
    rule = express_consent(runtime.holder.manifest, "marketo")
    assert {"ca", "canada", "de", "germany"} <= rule.countries
    assert emu.core.write_requests == []


async def test_an_empty_country_list_keeps_canada_and_another_evidence_field_is_read(
    connect, runtime: Runtime, settings: Settings, manifest_path: Path
):
    emu = runtime.connectors.emulator("marketo")
    bad = NO_CONSENT_EVIDENCE[0]
    _add_to_marketo(
        manifest_path, 'express_consent_countries = []\nconsent_evidence_field = "comments"\n'
    )
    emu.set_person_field(MK.native(bad), "comments", None)
    async with connect("assistant") as client:
        text = await refused(
            client,
            "propose_add_to_list",
            list_ref=LIST_REF["marketo"](0),
            person_refs=[MK.ref(bad)],
            reason=REASON,
        )
        assert f"{MK.ref(bad)} ({CODE})" in text, text
        why = await ok(client, "get_consent_state", ref=MK.ref(bad))
        assert why["sendable"] is False and "no consent evidence (comments)" in why["explanation"]
        emu.set_person_field(MK.native(bad), "comments", "double opt-in form 2026-03-02")
        plan = await ok(
            client,
            "propose_add_to_list",
            list_ref=LIST_REF["marketo"](0),
            person_refs=[MK.ref(bad)],
            reason=REASON,
        )
    assert plan["blocked"] == [] and [r["ref"] for r in plan["records"]] == [MK.ref(bad)]
    assert emu.core.write_requests == []


def test_an_evidence_field_that_does_not_exist_is_a_manifest_problem(tmp_path: Path):
    from mopsgate.governance.errors import ManifestError
    from mopsgate.governance.manifest_load import load_manifest
    from mopsgate.server.catalogue import build_catalogue

    text = (Path(__file__).parents[2] / "permissions.toml").read_text()
    head = '[connectors.salesforce]\nenvironment = "sandbox"\n'
    bad = tmp_path / "permissions.toml"
    bad.write_text(text.replace(head, head + 'consent_evidence_field = "Consent_Proof__c"\n'))
    with pytest.raises(ManifestError) as err:
        load_manifest(bad, build_catalogue())
    messages = [p.message for p in err.value.problems]
    assert sorted(m.split(";")[0] for m in messages) == [
        f"connectors.salesforce.consent_evidence_field: {obj} has no field 'Consent_Proof__c'"
        for obj in ("Contact", "Lead")
    ]

"""The compliance floor judges people, not records (catalogue I-15).

Seed lead 221 (``HUGO.OKAFOR149@…``, subscribed) is a second record of lead 149 (the same
address in lower case, opted out). The attack: send to, or add to a send list, the subscribed
duplicate of an opted-out person. Each test performs it on every connector — trigger,
schedule, add to a send list — at propose and again between approval and apply, and ends with
nothing written upstream and the refusal in the audit log.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.seed import seed_data
from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows, text_of
from tests.server.e2e_support import VENDORS, approve
from tests.server.test_changes_kit import (
    MK,
    OPT_OUT_FIELD,
    REASON,
    WELCOME_TRIGGER,
    apply,
    approved_send,
    last_refusal,
    ok,
    refused,
    status,
)
from tests.server.test_send_lists_floor import LIST_REF, SENDER, members_of

SEED = seed_data()
DUP, OPTED_OUT = 221, 149  # subscribed, upper-case copy of an opted-out person's address
TWIN, TWIN_OF = 147, 60  # two subscribed records of one person (60 is in the webinar list)
SEND_LIST = 5  # "Product Updates Beta": the audience of the active Welcome Trigger
WEBINAR = 1  # "Webinar Nov 2026": schedulable, sends to list 1
SAME_ADDRESS = "another record with the same email address"


def _groups() -> dict[str, list[int]]:
    by_email: dict[str, list[int]] = defaultdict(list)
    for p in SEED.people:
        by_email[p.email.strip().lower()].append(p.idx)
    return by_email


def sendable_people() -> set[int]:
    """Seed people whose every record with their address is subscribed."""
    return {
        i
        for group in _groups().values()
        if all(SEED.people[j].consent_status == "subscribed" for j in group)
        for i in group
    }


def single(n: int, not_in: int) -> list[int]:
    """Subscribed people with exactly one record (no duplicate of any kind) outside a list."""
    copied = {p.duplicate_of for p in SEED.people if p.duplicate_of is not None}
    members = set(SEED.lists[not_in].members)
    found = [
        p.idx
        for p in SEED.people
        if p.consent_status == "subscribed"
        and p.duplicate_of is None
        and p.idx not in copied
        and p.idx not in members
    ]
    return found[:n]


def test_the_seed_holds_the_trap():
    dup, orig = SEED.people[DUP], SEED.people[OPTED_OUT]
    assert dup.duplicate_of == OPTED_OUT and dup.email == orig.email.upper()
    assert (dup.consent_status, orig.consent_status) == ("subscribed", "opted_out")
    twin, twin_of = SEED.people[TWIN], SEED.people[TWIN_OF]
    assert twin.duplicate_of == TWIN_OF and twin.email.lower() == twin_of.email
    assert twin.consent_status == twin_of.consent_status == "subscribed"
    assert TWIN_OF in SEED.lists[WEBINAR].members
    assert not {DUP, TWIN, TWIN_OF} & set(SEED.lists[SEND_LIST].members)
    # 9 addresses hold a subscribed record beside a blocked one: a per-record floor would
    # send to those 10 subscribed records against their person's opt-out
    mixed = [
        g
        for g in _groups().values()
        if len({SEED.people[i].consent_status == "subscribed" for i in g}) == 2
    ]
    assert len(mixed) == 9
    assert sum(SEED.people[i].consent_status == "subscribed" for g in mixed for i in g) == 10


async def test_add_to_send_list_blocks_the_subscribed_duplicate_of_an_opted_out_person(
    connect, runtime: Runtime, settings: Settings
):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    fine = single(1, SEND_LIST)[0]
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            v = VENDORS[vendor]
            emu = runtime.connectors.emulator(vendor)
            list_ref = LIST_REF[vendor](SEND_LIST)
            before = members_of(runtime, vendor, SEND_LIST)
            seen = len(audit_rows(settings))
            plan = await ok(
                client,
                "propose_add_to_list",
                list_ref=list_ref,
                person_refs=[v.ref(DUP), v.ref(fine)],
                reason=REASON,
            )
            records = [(r["ref"], r["action"]) for r in plan["records"]]
            assert records == [(v.ref(fine), "add")], vendor
            [blocked] = plan["blocked"]
            assert (blocked["ref"], blocked["reason_code"]) == (v.ref(DUP), "opted_out"), vendor
            why = f"opted out of email on {v.ref(OPTED_OUT)}, {SAME_ADDRESS}"
            assert why in blocked["reason"], (vendor, blocked)
            assert "feeds email sends" in blocked["reason"], (vendor, blocked)
            text = await refused(
                client,
                "propose_add_to_list",
                list_ref=list_ref,
                person_refs=[v.ref(DUP)],
                reason=REASON,
            )
            assert "[compliance_floor]" in text and "1 blocked" in text, (vendor, text)
            assert emu.core.write_requests == [], vendor
            assert members_of(runtime, vendor, SEND_LIST) == before, vendor
            refusal = last_refusal(settings, "propose_add_to_list", since=seen)
            assert refusal["error_code"] == "compliance_floor", vendor


async def test_trigger_for_the_subscribed_duplicate_of_an_opted_out_person_is_blocked(
    connect, runtime: Runtime, settings: Settings
):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    fine = single(1, SEND_LIST)[0]
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            v = VENDORS[vendor]
            emu = runtime.connectors.emulator(vendor)
            campaign = WELCOME_TRIGGER if vendor == "marketo" else SENDER[vendor](2)
            seen = len(audit_rows(settings))
            if vendor == "marketo":
                plan = await ok(
                    client,
                    "propose_trigger_campaign",
                    campaign_ref=campaign,
                    person_refs=[v.ref(DUP), v.ref(fine)],
                    reason=REASON,
                )
                assert [r["ref"] for r in plan["records"]] == [v.ref(fine)]
                assert [(b["ref"], b["reason_code"]) for b in plan["blocked"]] == [
                    (v.ref(DUP), "opted_out")
                ]
                assert v.ref(OPTED_OUT) in plan["blocked"][0]["reason"]
            text = await refused(
                client,
                "propose_trigger_campaign",
                campaign_ref=campaign,
                person_refs=[v.ref(DUP)],
                reason=REASON,
            )
            if vendor == "marketo":
                assert "[compliance_floor]" in text and "1 blocked" in text, text
            else:  # no API sends to given people there: refused before anything is read
                assert "[not_supported]" in text and "cannot be triggered" in text, (vendor, text)
            assert emu.core.write_requests == [], vendor
            assert getattr(emu, "triggered", []) == [], vendor
            code = "compliance_floor" if vendor == "marketo" else "not_supported"
            refusal = last_refusal(settings, "propose_trigger_campaign", since=seen)
            assert refusal["error_code"] == code, vendor


def _webinar_audience_of_sendable_people(runtime: Runtime) -> int:
    """Leave in the Marketo webinar list only people every record of whom is subscribed."""
    emu = runtime.connectors.emulator("marketo")
    audience = mk.list_id(WEBINAR)
    sendable = sendable_people()
    for lead in emu.list_member_ids(audience):
        if mk.lead_idx(lead) not in sendable:
            emu.state.remove_list_member(audience, lead)
    return audience


async def test_schedule_to_an_audience_holding_the_duplicate_is_refused(
    connect, runtime: Runtime, settings: Settings
):
    """Marketo: an otherwise clean audience plus the subscribed duplicate → refused; the other
    vendors cannot schedule through their API, and say so. Each vendor in turn, on one
    server."""
    run_at = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            emu = runtime.connectors.emulator(vendor)
            if vendor == "marketo":
                audience = _webinar_audience_of_sendable_people(runtime)
                emu.state.add_list_member(audience, MK.native(DUP), "2026-01-01T00:00:00Z")
            seen = len(audit_rows(settings))
            text = await refused(
                client,
                "propose_schedule_campaign",
                campaign_ref=SENDER[vendor](WEBINAR),
                run_at=run_at,
                reason=REASON,
            )
            assert (await ok(client, "list_my_changes"))["changes"] == [], vendor
            if vendor == "marketo":
                assert "[compliance_floor]" in text and "holds 1 person who may not" in text, text
                assert f"{MK.ref(DUP)} (opted_out)" in text  # named, so it can be removed first
            else:
                assert "[not_supported]" in text and "cannot be scheduled" in text, (vendor, text)
            assert emu.core.write_requests == [], vendor
            assert getattr(emu, "scheduled", []) == [], vendor
            code = "compliance_floor" if vendor == "marketo" else "not_supported"
            refusal = last_refusal(settings, "propose_schedule_campaign", since=seen)
            assert refusal["error_code"] == code, vendor


async def test_duplicate_opting_out_after_approval_stops_the_add_to_send_list(
    connect, runtime: Runtime, settings: Settings
):
    """The re-check at apply judges the person too: their other record opted out after the
    plan was approved, so the add is stale and nothing is written. Each vendor in turn, on
    one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            v = VENDORS[vendor]
            emu = runtime.connectors.emulator(vendor)
            list_ref = LIST_REF[vendor](SEND_LIST)
            before = members_of(runtime, vendor, SEND_LIST)
            plan = await ok(
                client,
                "propose_add_to_list",
                list_ref=list_ref,
                person_refs=[v.ref(TWIN)],
                reason=REASON,
            )
            assert plan["blocked"] == [] and plan["records"][0]["action"] == "add", vendor
            approve(settings, plan["change_id"])
            emu.set_person_field(v.native_of(v.ref(TWIN_OF)), OPT_OUT_FIELD[vendor], True)
            seen = len(audit_rows(settings))
            result = await apply(client, plan)
            text = text_of(result)
            assert result.is_error and "[stale]" in text, (vendor, text)
            assert f"{v.ref(TWIN)} is now opted out of email on {v.ref(TWIN_OF)}" in text, text
            assert await status(client, plan["change_id"]) == "stale", vendor
            assert emu.core.write_requests == [], vendor
            assert members_of(runtime, vendor, SEND_LIST) == before, vendor
            assert last_refusal(settings, since=seen)["error_code"] == "stale", vendor


async def test_duplicate_opting_out_after_approval_stops_the_trigger(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("marketo")
    async with connect("assistant") as client:
        plan = await approved_send(client, settings, [TWIN])
        emu.set_person_field(MK.native(TWIN_OF), "unsubscribed", True)
        result = await apply(client, plan)
        text = text_of(result)
        assert result.is_error and f"{MK.ref(TWIN)} is now opted out of email on" in text, text
        assert await status(client, plan["change_id"]) == "stale"
    assert emu.core.write_requests == [] and emu.triggered == []
    assert last_refusal(settings)["change_id"] == plan["change_id"]


async def test_duplicate_outside_the_audience_opting_out_stops_the_schedule(
    connect, runtime: Runtime, settings: Settings
):
    """Lead 60 is in the webinar audience; its twin 147 is not. 147 opting out after approval
    makes the scheduled send stale: the audience is judged person by person at apply."""
    emu = runtime.connectors.emulator("marketo")
    _webinar_audience_of_sendable_people(runtime)
    run_at = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    async with connect("assistant") as client:
        plan = await ok(
            client,
            "propose_schedule_campaign",
            campaign_ref=SENDER["marketo"](WEBINAR),
            run_at=run_at.isoformat(),
            reason=REASON,
        )
        approve(settings, plan["change_id"], "mops-lead")
        approve(settings, plan["change_id"], "compliance")
        emu.set_person_field(MK.native(TWIN), "unsubscribed", True)
        result = await apply(client, plan)
        text = text_of(result)
        assert result.is_error and "[stale]" in text, text
        assert f"{MK.ref(TWIN_OF)} in the audience is now opted out of email on" in text, text
        assert MK.ref(TWIN) in text
        assert await status(client, plan["change_id"]) == "stale"
    assert emu.core.write_requests == [] and emu.scheduled == []
    assert last_refusal(settings)["error_code"] == "stale"


async def test_an_address_that_cannot_be_matched_is_of_unknown_consent(
    connect, runtime: Runtime, settings: Settings
):
    """A homoglyph (Cyrillic 'а'), an invisible character or a full-width letter would dodge
    the match against an opt-out; such an address is not plain ASCII, so the floor fails
    closed and blocks it."""
    emu = runtime.connectors.emulator("marketo")
    targets = single(3, SEND_LIST)
    email = SEED.people[OPTED_OUT].email
    spoofs = [email.replace("a", "\u0430", 1), "\u200b" + email, "\uff48" + email[1:]]
    for idx, spoof in zip(targets, spoofs, strict=True):
        emu.set_person_field(MK.native(idx), "email", spoof)
    async with connect("assistant") as client:
        text = await refused(
            client,
            "propose_add_to_list",
            list_ref=LIST_REF["marketo"](SEND_LIST),
            person_refs=[MK.ref(i) for i in targets],
            reason=REASON,
        )
        assert "[compliance_floor]" in text and "3 blocked" in text, text
    assert emu.core.write_requests == []
    assert last_refusal(settings, "propose_add_to_list")["error_code"] == "compliance_floor"


async def test_an_internationalised_domain_matches_its_ascii_form(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("marketo")
    fine, other = single(2, SEND_LIST)
    emu.set_person_field(MK.native(fine), "email", "Jan.Mueller@Müller.Test")
    emu.set_person_field(MK.native(other), "email", "jan.mueller@xn--mller-kva.test")
    emu.set_person_field(MK.native(other), "unsubscribed", True)
    async with connect("assistant") as client:
        text = await refused(
            client,
            "propose_trigger_campaign",
            campaign_ref=WELCOME_TRIGGER,
            person_refs=[MK.ref(fine)],
            reason=REASON,
        )
        assert "[compliance_floor]" in text, text
    assert emu.core.write_requests == [] and emu.triggered == []
    assert last_refusal(settings, "propose_trigger_campaign")["error_code"] == "compliance_floor"


async def test_same_name_and_company_is_another_person_and_is_not_blocked(
    connect, runtime: Runtime, settings: Settings
):
    """Records that share only a name and company may be two people: the floor does not block
    on them (find_duplicates reports them for a human to merge)."""
    namesake = next(
        p.idx
        for p in SEED.people
        if p.duplicate_of is not None
        and p.email.lower() != SEED.people[p.duplicate_of].email.lower()
        and p.consent_status == "subscribed"
        and SEED.people[p.duplicate_of].consent_status == "opted_out"
        and p.idx not in SEED.lists[SEND_LIST].members
        and p.idx in sendable_people()
    )
    async with connect("assistant") as client:
        plan = await ok(
            client,
            "propose_add_to_list",
            list_ref=LIST_REF["marketo"](SEND_LIST),
            person_refs=[MK.ref(namesake)],
            reason=REASON,
        )
    assert plan["blocked"] == [] and plan["records"][0]["action"] == "add"
    rows = [r for r in audit_rows(settings) if r["tool"] == "propose_add_to_list"]
    assert [(r["outcome"], r["change_id"]) for r in rows] == [("ok", plan["change_id"])]


async def test_a_list_that_feeds_no_send_costs_no_needless_lookup(
    connect, runtime: Runtime, settings: Settings
):
    """The same-email lookup and the campaign scan each run only when their answer can change
    the plan (Marketo list 3 feeds no email send): the API budget is the user's."""
    emu = runtime.connectors.emulator("marketo")
    no_send = LIST_REF["marketo"](3)
    fine = single(1, 3)[0]
    opted_out = next(p.idx for p in SEED.people if p.consent_status == "opted_out")

    def calls() -> tuple[int, bool]:
        requests = emu.core.requests
        lookups = sum("filterType=email" in r.query for r in requests)
        scanned = any(r.path.startswith("/rest/asset/v1/") for r in requests)
        emu.core.reset_log()
        return lookups, scanned

    async with connect("assistant") as client:
        for refs, expected in (
            ([fine], (1, False)),  # nobody blocked: one lookup, no scan
            ([fine, opted_out], (0, True)),  # scan first; no send list, so no lookup
            ([DUP], (1, True)),  # the lookup blocks 221, so the scan runs: no send list
        ):
            calls()
            plan = await ok(
                client,
                "propose_add_to_list",
                list_ref=no_send,
                person_refs=[MK.ref(i) for i in refs],
                reason=REASON,
            )
            assert plan["blocked"] == [], plan["blocked"]  # a list that feeds no send
            assert calls() == expected, refs
    assert emu.core.write_requests == []


async def test_consent_state_gives_the_floors_verdict(
    connect, runtime: Runtime, settings: Settings
):
    """What the assistant is told before a send agrees with what the floor enforces: 221's
    own record is subscribed, but 221 may not be emailed, and the reason names 149. Each
    vendor in turn, on one server."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            v = VENDORS[vendor]
            why = f"opted out of email on {v.ref(OPTED_OUT)}, {SAME_ADDRESS}"
            seen = len(audit_rows(settings))
            state = await ok(client, "get_consent_state", ref=v.ref(DUP))
            assert state["consent"]["status"] == "subscribed", vendor
            assert (state["sendable"], state["explanation"]) == (False, why), vendor
            twin = await ok(client, "get_consent_state", ref=v.ref(TWIN))
            assert twin["sendable"] is True, vendor
            assert runtime.connectors.emulator(vendor).core.write_requests == [], vendor
            rows = [r for r in audit_rows(settings)[seen:] if r["tool"] == "get_consent_state"]
            assert [r["outcome"] for r in rows] == ["ok", "ok"], vendor

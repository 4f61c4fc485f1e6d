"""A consent read that fails is not consent (catalogue C-02).

The vendor answers 5xx, or nothing at all, exactly where the floor reads what it decides on:
the targets' own records, the lookup of every other record with their address, a scheduled
campaign's audience. At propose the call is refused and nothing is stored; at the apply-time
re-check the change ends as failed before a single write. Each refusal is in the audit log.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mopsgate.connectors.http import RetryPolicy
from mopsgate.sandbox.marketo import ids as mk
from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows, text_of
from tests.server.e2e_support import VENDORS, approve
from tests.server.test_changes_kit import (
    MK,
    REASON,
    WELCOME_TRIGGER,
    apply,
    approved_send,
    cases_emulator,
    last_refusal,
    ok,
    refused,
    status,
)
from tests.server.test_floor_duplicates import (
    SEND_LIST,
    WEBINAR,
    _webinar_audience_of_sendable_people,
    single,
)
from tests.server.test_send_lists_floor import LIST_REF, SENDER, members_of
from tests.support.no_wait import no_wait_runtime

TRIES = RetryPolicy().max_attempts  # a fault that outlasts every retry
# What each kind of consent read looks like on the wire (an aimed fault's key).
LOOKUP = {
    "marketo": "filterType=email",
    "hubspot": "/contacts/search",
    "salesforce": "WHERE Email IN (",
}
TARGETS = {
    "marketo": "filterType=id",
    "hubspot": "/contacts/batch/read",
    "salesforce": "WHERE Id IN (",
}
FAULTS = ("error_on", "timeout_on")


@pytest.fixture
def runtime(settings: Settings) -> Runtime:
    """Retries without waiting, so a fault that outlasts them costs milliseconds."""
    return no_wait_runtime(settings)


def _aim(runtime: Runtime, vendor: str, fault: str, key: str) -> None:
    getattr(runtime.connectors.emulator(vendor).core.faults, fault)[key] = TRIES


def _hit(runtime: Runtime, vendor: str, key: str) -> int:
    """Calls the aimed fault answered (they are logged with status 5xx)."""
    requests = runtime.connectors.emulator(vendor).core.requests
    return sum(r.status >= 500 and key in f"{r.path}?{_decoded(r.query)}" for r in requests)


def _decoded(query: str) -> str:
    from urllib.parse import unquote_plus

    return unquote_plus(query)


async def _propose_add(client: Any, vendor: str, refs: list[str]) -> str:
    return await refused(
        client,
        "propose_add_to_list",
        list_ref=LIST_REF[vendor](SEND_LIST),
        person_refs=refs,
        reason=REASON,
    )


# Each test below runs its cases (every consent read x both faults) one after another on one
# server: a refused proposal stores nothing and an aimed fault is spent by the retries it
# answers (each case checks that), so every case starts where a fresh server would, and a
# case costs its calls rather than another server, client and seeded sandbox.
CASES = [(read, fault) for read in ("lookup", "targets") for fault in FAULTS]


async def test_add_to_send_list_is_refused_when_consent_cannot_be_read(
    connect, runtime: Runtime, settings: Settings
):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            v = VENDORS[vendor]
            emu = cases_emulator(runtime, vendor)
            before = members_of(runtime, vendor, SEND_LIST)
            for read, fault in CASES:
                case = f"{vendor} {read} {fault}"
                key = (LOOKUP if read == "lookup" else TARGETS)[vendor]
                emu.core.reset_log()
                seen = len(audit_rows(settings))
                _aim(runtime, vendor, fault, key)
                text = await _propose_add(client, vendor, [v.ref(i) for i in single(2, SEND_LIST)])
                assert f"[upstream_error] could not read consent on {vendor}" in text, (case, text)
                assert "fails closed: nothing was proposed" in text, (case, text)
                assert (await ok(client, "list_my_changes"))["changes"] == [], case
                assert _hit(runtime, vendor, key) == TRIES, case
                assert emu.core.write_requests == [], case
                assert members_of(runtime, vendor, SEND_LIST) == before, case
                row = last_refusal(settings, "propose_add_to_list", since=seen)
                assert (row["outcome"], row["error_code"]) == ("error", "upstream_error"), case


async def test_trigger_is_refused_when_consent_cannot_be_read(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("marketo")
    async with connect("assistant") as client:
        for read, fault in CASES:
            case = f"{read} {fault}"
            key = (LOOKUP if read == "lookup" else TARGETS)["marketo"]
            emu.core.reset_log()
            seen = len(audit_rows(settings))
            _aim(runtime, "marketo", fault, key)
            text = await refused(
                client,
                "propose_trigger_campaign",
                campaign_ref=WELCOME_TRIGGER,
                person_refs=[MK.ref(i) for i in single(2, SEND_LIST)],
                reason=REASON,
            )
            assert "[upstream_error] could not read consent on marketo" in text, (case, text)
            assert (await ok(client, "list_my_changes"))["changes"] == [], case
            assert _hit(runtime, "marketo", key) == TRIES, case
            assert emu.core.write_requests == [] and emu.triggered == [], case
            refusal = last_refusal(settings, "propose_trigger_campaign", since=seen)
            assert refusal["error_code"] == "upstream_error", case


async def test_schedule_is_refused_when_the_audience_consent_cannot_be_read(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("marketo")
    _webinar_audience_of_sendable_people(runtime)
    async with connect("assistant") as client:
        for read in ("lookup", "audience"):
            webinar = f"/lists/{mk.list_id(WEBINAR)}/leads.json"
            key = LOOKUP["marketo"] if read == "lookup" else webinar
            emu.core.reset_log()
            seen = len(audit_rows(settings))
            _aim(runtime, "marketo", "error_on", key)
            text = await refused(
                client,
                "propose_schedule_campaign",
                campaign_ref=SENDER["marketo"](WEBINAR),
                run_at=(datetime.now(UTC) + timedelta(days=2)).isoformat(),
                reason=REASON,
            )
            assert "[upstream_error] could not read consent on marketo" in text, (read, text)
            assert "nothing was proposed" in text, (read, text)
            audience = "the audience of 'Webinar Nov 2026 - Send'" in text
            assert audience == (read == "audience"), (read, text)
            assert _hit(runtime, "marketo", key) == TRIES, read
            assert emu.core.write_requests == [] and emu.scheduled == [], read
            refusal = last_refusal(settings, "propose_schedule_campaign", since=seen)
            assert refusal["error_code"] == "upstream_error", read


async def test_failed_consent_re_check_at_apply_writes_nothing(
    connect, runtime: Runtime, settings: Settings
):
    """Each case is a change of its own (the one before it failed: it holds no lock and is
    never retried), re-checked under its own aimed fault.
    Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            seen = len(audit_rows(settings))
            v = VENDORS[vendor]
            emu = cases_emulator(runtime, vendor)
            before = members_of(runtime, vendor, SEND_LIST)
            for read, fault in CASES:
                case = f"{vendor} {read} {fault}"
                key = (LOOKUP if read == "lookup" else TARGETS)[vendor]
                plan = await ok(
                    client,
                    "propose_add_to_list",
                    list_ref=LIST_REF[vendor](SEND_LIST),
                    person_refs=[v.ref(i) for i in single(2, SEND_LIST)],
                    reason=REASON,
                )
                approve(settings, plan["change_id"])
                emu.core.reset_log()
                _aim(runtime, vendor, fault, key)
                result = await apply(client, plan)
                text = text_of(result)
                assert result.is_error, (case, text)
                assert "[upstream_error] could not re-read the targets" in text, (case, text)
                assert f"could not read consent on {vendor}" in text, (case, text)
                assert "fail closed" in text, (case, text)
                assert await status(client, plan["change_id"]) == "failed", case
                detail = (await ok(client, "get_change", change_id=plan["change_id"]))[
                    "status_detail"
                ]
                assert "nothing was written" in detail, (case, detail)
                again = await apply(client, plan)
                assert again.is_error, case  # the token was spent: a failed change is not retried
                assert _hit(runtime, vendor, key) == TRIES, case
                assert emu.core.write_requests == [], case
                assert members_of(runtime, vendor, SEND_LIST) == before, case
                calls = [
                    r
                    for r in audit_rows(settings)[seen:]
                    if r["tool"] == "apply_change"
                    and r["outcome"] != "ok"
                    and r["change_id"] == plan["change_id"]
                ]
                assert [(r["change_id"], r["error_code"]) for r in calls] == [
                    (plan["change_id"], "upstream_error"),
                    (plan["change_id"], "invalid_confirmation"),
                ], case


async def test_failed_consent_re_check_stops_an_approved_trigger(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("marketo")
    async with connect("assistant") as client:
        plan = await approved_send(client, settings, single(2, SEND_LIST))
        _aim(runtime, "marketo", "timeout_on", LOOKUP["marketo"])
        result = await apply(client, plan)
        assert result.is_error and "could not read consent" in text_of(result), text_of(result)
        assert await status(client, plan["change_id"]) == "failed"
    assert emu.core.write_requests == [] and emu.triggered == []
    assert last_refusal(settings)["change_id"] == plan["change_id"]


async def test_failed_audience_re_check_stops_an_approved_schedule(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("marketo")
    _webinar_audience_of_sendable_people(runtime)
    async with connect("assistant") as client:
        plan = await ok(
            client,
            "propose_schedule_campaign",
            campaign_ref=SENDER["marketo"](WEBINAR),
            run_at=(datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0).isoformat(),
            reason=REASON,
        )
        approve(settings, plan["change_id"], "mops-lead")
        approve(settings, plan["change_id"], "compliance")
        _aim(runtime, "marketo", "error_on", LOOKUP["marketo"])
        result = await apply(client, plan)
        assert result.is_error and "could not read consent" in text_of(result), text_of(result)
        assert await status(client, plan["change_id"]) == "failed"
    assert emu.core.write_requests == [] and emu.scheduled == []
    assert last_refusal(settings)["change_id"] == plan["change_id"]

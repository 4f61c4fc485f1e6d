"""Vendor answers that must not be taken at their word (catalogue U-06, U-15).

A 429 asking to come back in an hour is not waited out: the assistant is told at once, with the
wait, after one request. A 302 to another host is never followed — the credentials stay with
the configured host — and a write answered with a redirect is not a write that happened.
"""

from __future__ import annotations

import pytest

from mopsgate.connectors.composed import ComposedConnector
from mopsgate.connectors.http import RetryPolicy
from mopsgate.server.app import Runtime, build_runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows, text_of
from tests.server.e2e_support import VENDORS
from tests.server.test_changes_kit import (
    apply,
    approved_titles,
    last_refusal,
    ok,
    people,
)

WAITS: list[float] = []
READ = {  # the request line of each vendor's read of one person (get_person)
    "marketo": "GET /rest/v1/lead/",
    "hubspot": "GET /crm/v3/objects/contacts/",
    "salesforce": "/sobjects/Lead/",
}
REREAD = {  # ... and of the targets an apply re-reads
    "marketo": "filterType=id",
    "hubspot": "/contacts/batch/read",
    "salesforce": "WHERE Id IN (",
}
UPDATE = {
    "marketo": "POST /rest/v1/leads.json",
    "hubspot": "/contacts/batch/update",
    "salesforce": "/composite/sobjects",
}


async def _recorded_sleep(seconds: float) -> None:
    WAITS.append(seconds)


@pytest.fixture
def runtime(settings: Settings) -> Runtime:
    WAITS.clear()
    retry = RetryPolicy(sleep=_recorded_sleep, jitter=lambda: 0.5)
    return build_runtime(settings, env={}, client_options={"retry": retry})


async def test_an_hour_long_retry_after_is_reported_not_waited(
    connect, runtime: Runtime, settings: Settings
):
    hs = VENDORS["hubspot"]
    emu = runtime.connectors.emulator("hubspot")
    emu.core.faults.retry_after = 3600
    emu.core.faults.rate_limit_on["/contacts/"] = 1
    async with connect("assistant") as client:
        result = await client.call_tool("get_person", {"ref": hs.ref(5)})
    text = text_of(result)
    assert result.is_error and text.startswith("[rate_limited]"), text
    assert "retry after 3600 s" in text, text
    assert WAITS == []  # not held for an hour, nor retried
    assert len(emu.core.requests) == 1
    row = last_refusal(settings, "get_person")
    assert row["error_code"] == "rate_limited" and row["upstream_calls"] == 1


async def test_an_hour_long_retry_after_on_the_write_sends_nothing_and_says_so(
    connect, runtime: Runtime, settings: Settings
):
    v = VENDORS["hubspot"]
    emu = runtime.connectors.emulator("hubspot")
    idxs = people("subscribed", 2, start=80)
    before = {i: emu.person_fields(v.native(i))[v.title_field] for i in idxs}
    async with connect("assistant") as client:
        plan = await approved_titles(client, settings, v, idxs, "Rate Limited")
        emu.core.faults.retry_after = 3600
        emu.core.faults.rate_limit_on[UPDATE["hubspot"]] = 1
        result = await apply(client, plan)
        assert result.is_error and "0 of 2 records written" in text_of(result), text_of(result)
        change = await ok(client, "get_change", change_id=plan["change_id"])
        assert change["status"] == "failed"
        assert {f["code"] for f in change["outcome"]["failed"]} == {"not_written"}
        assert "retry after" in change["outcome"]["detail"].lower() or "limit" in str(change)
    assert WAITS == []
    assert {i: emu.person_fields(v.native(i))[v.title_field] for i in idxs} == before
    assert [r.status for r in emu.core.write_requests] == [429]


async def test_a_redirect_to_another_host_is_not_followed(
    connect, runtime: Runtime, settings: Settings
):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            v = VENDORS[vendor]
            emu = runtime.connectors.emulator(vendor)
            emu.core.faults.redirect_on[READ[vendor]] = 1
            seen = len(audit_rows(settings))
            result = await client.call_tool("get_person", {"ref": v.ref(7)})
            text = text_of(result)
            assert result.is_error and "redirecting to evil.example" in text, (vendor, text)
            assert "does not follow redirects" in text, vendor
            hits = [r.status for r in emu.core.requests if READ[vendor].split(" ")[-1] in r.path]
            assert hits == [302], vendor  # one request, never a second
            refusal = last_refusal(settings, "get_person", since=seen)
            assert refusal["error_code"] == "upstream_error", vendor


async def test_a_write_answered_with_a_redirect_is_not_counted_as_written(
    connect, runtime: Runtime, settings: Settings
):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            v = VENDORS[vendor]
            emu = runtime.connectors.emulator(vendor)
            idxs = people("subscribed", 2, start=90)
            before = {i: emu.person_fields(v.native(i))[v.title_field] for i in idxs}
            plan = await approved_titles(client, settings, v, idxs, "Redirected")
            emu.core.faults.redirect_on[UPDATE[vendor]] = 1
            seen = len(audit_rows(settings))
            result = await apply(client, plan)
            assert result.is_error, (vendor, text_of(result))
            change = await ok(client, "get_change", change_id=plan["change_id"])
            assert change["status"] == "failed", (vendor, change)
            assert change["outcome"]["written"] == 0, (vendor, change)
            assert {i: emu.person_fields(v.native(i))[v.title_field] for i in idxs} == before
            assert [r.status for r in emu.core.write_requests] == [302], vendor
            assert last_refusal(settings, since=seen)["change_id"] == plan["change_id"], vendor


async def test_a_malformed_answer_is_an_upstream_error_never_data(
    connect, runtime: Runtime, settings: Settings
):
    """U-11: a proxy's HTML page, or JSON cut off, where the vendor's JSON belongs: a read
    fails cleanly, and an apply whose re-read is malformed writes nothing. The kinds run one
    after another on one server, each with its own change (the one before failed, wrote
    nothing and holds no lock), each check naming its kind.
    Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            seen = len(audit_rows(settings))
            v = VENDORS[vendor]
            emu = runtime.connectors.emulator(vendor)
            for kind in ("html", "truncated", "empty", "wrong_type"):
                emu.core.faults.malformed_kind = kind
                emu.core.faults.malformed_on[READ[vendor]] = 1
                result = await client.call_tool("get_person", {"ref": v.ref(7)})
                text = text_of(result)
                assert result.is_error and text.startswith("[upstream_error]"), (kind, text)
                assert "JSON" in text and "Traceback" not in text, (kind, text)  # and no crash
                idxs = people("subscribed", 1, start=100)
                plan = await approved_titles(client, settings, v, idxs, "Never On Malformed")
                emu.core.faults.malformed_on[REREAD[vendor]] = 1
                emu.core.reset_log()
                seen = len(audit_rows(settings))
                applied = await apply(client, plan)
                assert applied.is_error and "could not re-read" in text_of(applied), (
                    kind,
                    text_of(applied),
                )
                assert emu.core.write_requests == [], kind
                assert last_refusal(settings, since=seen)["error_code"] == "upstream_error", kind


async def test_the_crms_own_permission_refusal_is_named_and_not_retried(
    connect, runtime: Runtime, settings: Settings
):
    """U-17: the manifest allows the write, the CRM's field-level security does not.
    Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor in ("hubspot", "salesforce"):
            seen = len(audit_rows(settings))
            v = VENDORS[vendor]
            emu = runtime.connectors.emulator(vendor)
            idxs = people("subscribed", 1, start=110)
            plan = await approved_titles(client, settings, v, idxs, "Forbidden Title")
            emu.core.faults.forbidden_on[UPDATE[vendor]] = 5
            emu.core.reset_log()
            result = await apply(client, plan)
            change = await ok(client, "get_change", change_id=plan["change_id"])
            text = text_of(result)
            assert result.is_error, text
            assert [r.status for r in emu.core.write_requests] == [403]  # once: never retried
            assert change["status"] == "failed"
            assert "field-level security" in change["outcome"]["detail"], change["outcome"]
            row = last_refusal(settings, since=seen)
            assert row["outcome"] == "error"


async def test_a_forbidden_read_says_the_crm_refused_it(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("hubspot")
    emu.core.faults.forbidden_on[READ["hubspot"]] = 5
    async with connect("assistant") as client:
        result = await client.call_tool("get_person", {"ref": VENDORS["hubspot"].ref(9)})
    text = text_of(result)
    assert text.startswith("[upstream_forbidden]") and "its own permissions" in text, text
    assert len(emu.core.requests) == 1
    assert last_refusal(settings, "get_person")["error_code"] == "upstream_forbidden"


async def test_a_short_retry_after_is_waited_then_the_read_succeeds(
    connect, runtime: Runtime, settings: Settings
):
    """U-05: the vendor's own wait is honoured (bounded), then the call goes through."""
    emu = runtime.connectors.emulator("hubspot")
    emu.core.faults.retry_after = 7
    emu.core.faults.rate_limit_on[READ["hubspot"]] = 1
    async with connect("assistant") as client:
        result = await client.call_tool("get_person", {"ref": VENDORS["hubspot"].ref(11)})
    assert not result.is_error, text_of(result)
    assert WAITS == [7.0]
    assert [r.status for r in emu.core.requests] == [429, 200]
    row = [r for r in audit_rows(settings) if r["tool"] == "get_person"][-1]
    assert (row["outcome"], row["upstream_calls"]) == ("ok", 2)


async def test_an_expired_vendor_token_is_renewed_once_and_never_logged(
    connect, runtime: Runtime, settings: Settings, capfd
):
    """U-01, at the gate: the read succeeds after one re-authentication, the audit row counts
    every try, and no access token reaches the log or the database."""
    emu = runtime.connectors.emulator("marketo")
    async with connect("assistant") as client:
        assert not (
            await client.call_tool("get_person", {"ref": VENDORS["marketo"].ref(4)})
        ).is_error
        emu.core.faults.expire_tokens = True
        result = await client.call_tool("get_person", {"ref": VENDORS["marketo"].ref(5)})
    assert not result.is_error, text_of(result)
    row = [r for r in audit_rows(settings) if r["tool"] == "get_person"][-1]
    assert row["outcome"] == "ok" and row["upstream_calls"] >= 2, row
    issued = list(emu.core.tokens)
    assert len(issued) == 2  # renewed exactly once
    out, err = capfd.readouterr()
    stored = b"".join(p.read_bytes() for p in settings.home.glob("mopsgate.db*"))
    for token in issued:
        assert token not in out + err and token.encode() not in stored


async def test_an_answer_over_the_size_cap_is_cut_off_and_never_used(
    connect, runtime: Runtime, settings: Settings
):
    """U-13: an answer larger than the cap (here lowered to 64 kB so the test stays small; the
    default is 32 MB) stops the read at the cap with a clear error, on a read and on the apply
    re-read; nothing is written and both calls are audited. Each vendor in turn, on one
    server (each has its own emulator, connector and request log)."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            v = VENDORS[vendor]
            emu = runtime.connectors.emulator(vendor)
            connector = runtime.connectors.get(vendor)
            assert isinstance(connector, ComposedConnector)
            connector.http.max_body_bytes = 64_000
            emu.core.faults.huge_bytes = 1_000_000
            emu.core.faults.huge_on[READ[vendor]] = 1
            seen = len(audit_rows(settings))
            result = await client.call_tool("get_person", {"ref": v.ref(7)})
            text = text_of(result)
            assert result.is_error and text.startswith("[upstream_error]"), (vendor, text)
            assert "more than 64,000 bytes" in text, (vendor, text)
            refusal = last_refusal(settings, "get_person", since=seen)
            assert refusal["error_code"] == "upstream_error", vendor
            idxs = people("subscribed", 1, start=130)
            before = emu.person_fields(v.native(idxs[0]))[v.title_field]
            plan = await approved_titles(client, settings, v, idxs, "Never On Huge")
            emu.core.faults.huge_on[REREAD[vendor]] = 1
            emu.core.reset_log()
            seen = len(audit_rows(settings))
            applied = await apply(client, plan)
            assert applied.is_error and "more than 64,000 bytes" in text_of(applied), (
                vendor,
                text_of(applied),
            )
            assert emu.core.write_requests == [], vendor
            assert emu.person_fields(v.native(idxs[0]))[v.title_field] == before, vendor
            assert last_refusal(settings, since=seen)["change_id"] == plan["change_id"], vendor

"""People who may not be emailed never reach a send audience, on any vendor (catalogue C-01).

The attack end to end: propose opted-out, suppressed and unknown-consent people (Salesforce
``HasOptedOutOfEmail``, Marketo ``unsubscribed``, HubSpot ``hs_email_optout``) together with
one subscribed person into a list that feeds email sends, have it approved, apply it. Only the
subscribed person is written; the others are listed as blocked with their consent reasons, and
the audit row of the proposal names them by reference. A vendor's send lists run one after
another on one server, each list's checks its own (its members, its writes, its audit rows).
"""

from __future__ import annotations

from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows, text_of
from tests.server.e2e_support import VENDORS, approve
from tests.server.test_changes_kit import (
    REASON,
    apply,
    cases_emulator,
    last_refusal,
    ok,
    refused,
)
from tests.server.test_send_lists_floor import LIST_REF, SEND_LISTS, members_of, outsiders

REASONS = {
    "opted_out": ("opted_out", "opted out of email"),
    "suppressed": ("suppressed", "suppressed: "),
    "unknown": ("consent_unknown", "consent unknown: no legal basis recorded"),
}


async def test_only_who_may_be_emailed_is_added_to_a_send_audience(
    connect, runtime: Runtime, settings: Settings
):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            v = VENDORS[vendor]
            emu = cases_emulator(runtime, vendor)
            for list_idx in sorted(SEND_LISTS):
                who = outsiders(list_idx)
                before = members_of(runtime, vendor, list_idx)
                seen = len(audit_rows(settings))
                emu.core.reset_log()
                plan = await ok(
                    client,
                    "propose_add_to_list",
                    list_ref=LIST_REF[vendor](list_idx),
                    person_refs=[v.ref(i) for i in who.values()],
                    reason=REASON,
                )
                blocked = {b["ref"]: b for b in plan["blocked"]}
                assert set(blocked) == {v.ref(who[s]) for s in REASONS}, list_idx
                for status, (code, words) in REASONS.items():
                    b = blocked[v.ref(who[status])]
                    assert b["reason_code"] == code and b["reason"].startswith(words), (list_idx, b)
                assert "blocked" in plan["diff_text"], list_idx
                approve(settings, plan["change_id"])
                done = await apply(client, plan)
                assert not done.is_error, (list_idx, text_of(done))
                assert done.structured_content["status"] == "applied", list_idx
                written = done.structured_content["outcome"]["written_refs"]
                assert written == [v.ref(who["subscribed"])], list_idx
                added = members_of(runtime, vendor, list_idx) - before
                assert added == {str(v.native(who["subscribed"]))}, list_idx
                assert len(emu.core.write_requests) == 1, list_idx
                [proposed] = [
                    r for r in audit_rows(settings)[seen:] if r["tool"] == "propose_add_to_list"
                ]
                assert proposed["change_id"] == plan["change_id"], list_idx
                for status, (code, _) in REASONS.items():
                    assert f"{v.ref(who[status])} ({code})" in proposed["result_summary"], list_idx


async def test_a_send_audience_of_only_blocked_people_is_refused_and_named(
    connect, runtime: Runtime, settings: Settings
):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            seen = len(audit_rows(settings))
            v = VENDORS[vendor]
            emu = runtime.connectors.emulator(vendor)
            who = outsiders(0)
            refs = [v.ref(who[s]) for s in REASONS]
            text = await refused(
                client,
                "propose_add_to_list",
                list_ref=LIST_REF[vendor](0),
                person_refs=refs,
                reason=REASON,
            )
            assert "[compliance_floor]" in text and "3 blocked" in text, text
            for status, (code, _) in REASONS.items():
                assert f"{v.ref(who[status])} ({code})" in text, text
            assert emu.core.write_requests == []
            row = last_refusal(settings, "propose_add_to_list", since=seen)
            assert row["error_code"] == "compliance_floor" and refs[0] in row["result_summary"]

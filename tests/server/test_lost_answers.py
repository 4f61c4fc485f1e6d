"""The vendor acted, then its answer was lost: a 5xx or a timeout after the write (catalogue
U-08, U-09). The emulator performs the write and then answers 502 or not at all
(``error_after_on`` / ``timeout_after_on``).

A send is never re-sent: a campaign trigger goes out once, its outcome stays unconfirmed (a
run leaves nothing to re-read) and finishing it is refused. A field update (idempotent) is
retried within the client's bound; when every answer is lost the records are re-read and the
change is recorded as what the vendor holds — here applied — without another write. Every
attempt leaves its intent row and its outcome row; the chain verifies. Both ways of losing an
answer run one after another on one server, each its own change with its own checks.
"""

from __future__ import annotations

import pytest

from mopsgate.connectors.http import RetryPolicy
from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from mopsgate.storage import audit_reader
from tests.conftest import audit_rows, text_of
from tests.server.e2e_support import VENDORS
from tests.server.test_changes_kit import (
    REASON,
    apply,
    approved_send,
    approved_titles,
    call,
    ok,
    people,
)
from tests.support.no_wait import no_wait_runtime

TRIES = RetryPolicy().max_attempts  # every try writes, and every answer is lost
LOST = ("error_after_on", "timeout_after_on")
UPDATE = {  # the request line of each vendor's batch update
    "marketo": "POST /rest/v1/leads.json",
    "hubspot": "/contacts/batch/update",
    "salesforce": "/composite/sobjects",
}


@pytest.fixture
def runtime(settings: Settings) -> Runtime:
    return no_wait_runtime(settings)


def _rows_of(settings: Settings, change_id: str) -> list[tuple[str, str]]:
    return [
        (r["kind"], r["outcome"])
        for r in audit_rows(settings)
        if r["change_id"] == change_id and r["tool"] == "apply_change"
    ]


async def test_a_trigger_whose_answer_was_lost_is_never_sent_again(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("marketo")
    async with connect("assistant") as client:
        for n, fault in enumerate(LOST):
            idxs = people("subscribed", 2, start=40 + 10 * n)  # a send of its own
            plan = await approved_send(client, settings, idxs)
            getattr(emu.core.faults, fault)["/trigger.json"] = 1
            emu.core.reset_log()
            sent = len(emu.triggered)
            result = await apply(client, plan)
            assert result.is_error and "[upstream_error]" in text_of(result), (
                fault,
                text_of(result),
            )
            assert len(emu.triggered) == sent + 1, fault  # the vendor did send
            change = await ok(client, "get_change", change_id=plan["change_id"])
            assert change["status"] == "failed", fault
            assert {f["code"] for f in change["outcome"]["failed"]} == {"unconfirmed"}, fault
            replay = await apply(client, plan)
            assert replay.is_error and "already been used" in text_of(replay), fault
            finish = await call(
                client, "propose_finish", change_id=plan["change_id"], reason=REASON
            )
            assert finish.is_error and "never repeated blind" in text_of(finish), fault
            assert len(emu.core.requests_to("/trigger.json", "POST")) == 1, fault
            assert len(emu.triggered) == sent + 1, fault
            rows = _rows_of(settings, plan["change_id"])
            assert rows[:1] == [("change", "ok")], fault  # intent first
            assert ("tool_call", "error") in rows, fault
            assert (await audit_reader(settings.storage()).verify()).ok, fault


async def test_an_update_whose_answer_was_lost_is_reconciled_by_re_reading(
    connect, runtime: Runtime, settings: Settings
):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            v = VENDORS[vendor]
            emu = runtime.connectors.emulator(vendor)
            idxs = people("subscribed", 2, start=60)
            for fault in LOST:
                title = f"Written, Answer Lost ({fault})"  # each case a change of its own
                plan = await approved_titles(client, settings, v, idxs, title)
                getattr(emu.core.faults, fault)[UPDATE[vendor]] = TRIES
                emu.core.reset_log()
                result = await apply(client, plan)
                assert not result.is_error, (fault, text_of(result))
                change = await ok(client, "get_change", change_id=plan["change_id"])
                assert change["status"] == "applied", (fault, change)
                written = sorted(change["outcome"]["written_refs"])
                assert written == sorted(v.ref(i) for i in idxs), fault
                assert "answer to the last batch was lost" in change["outcome"]["detail"], change
                # An update is idempotent, so the client's bounded retries may repeat it; once
                # they are spent the records are re-read, never written again.
                assert len(emu.core.write_requests) == TRIES, fault
                assert {emu.person_fields(v.native(i))[v.title_field] for i in idxs} == {title}
                rows = _rows_of(settings, plan["change_id"])
                assert rows[0] == ("change", "ok") and rows[-1] == ("tool_call", "ok"), rows

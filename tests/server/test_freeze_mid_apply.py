"""A freeze stops an apply that is already writing, before its next batch (the kill switch).

The attack on the switch: an approved change of 150 HubSpot contacts is being written (batches
of 100) when an operator, seeing it go wrong, runs ``mopsgate freeze``. The freeze lands while
the vendor writes the first batch; the second batch must never be sent, the change must fail
with an exact account (100 written, 50 not attempted), the refusal must say so, and the audit
log must record the apply as refused by the freeze.
"""

from __future__ import annotations

from typing import Any

import pytest

from mopsgate.sandbox.hubspot.emulator import HubSpotEmulator
from mopsgate.server.app import Runtime, build_runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows, text_of
from tests.server.e2e_support import VENDORS, approve
from tests.server.test_changes_kit import apply, cli, ok, people, propose_titles

HS = VENDORS["hubspot"]
TITLE = "Head of Refusals"  # what propose_titles writes
BATCH_PATH = "/crm/v3/objects/contacts/batch/update"


class FreezeDuringFirstBatch:
    """In front of the emulator: lets the vendor write the first batch update, then freezes
    applies (as an operator would, from another terminal) before the answer goes back."""

    def __init__(self, app: Any, *, settings: Settings) -> None:
        self.app, self.settings, self.froze = app, settings, False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http" and scope["path"].endswith(BATCH_PATH) and not self.froze:
            self.froze = True
            result = cli(self.settings, "freeze", "--reason", "incident 9", "--by", "oncall")
            assert result.exit_code == 0, result.output


@pytest.fixture
def runtime(settings: Settings) -> Runtime:
    emu = HubSpotEmulator()
    emu.app.add_middleware(FreezeDuringFirstBatch, settings=settings)
    return build_runtime(settings, env={}, emulators={"hubspot": emu})


async def test_a_freeze_stops_an_apply_under_way_before_its_next_batch(
    connect, runtime: Runtime, settings: Settings
):
    idxs = people("subscribed", 150)
    emu = runtime.connectors.emulator("hubspot")
    async with connect("assistant") as client:
        plan = await propose_titles(client, HS, idxs)
        approve(settings, plan["change_id"])
        result = await apply(client, plan)
        assert result.is_error, result.structured_content
        text = text_of(result)
        assert "[frozen]" in text and "100 of 150 records written, 50 not attempted" in text
        assert "incident 9" in text and "propose_finish" in text
        change = await ok(client, "get_change", change_id=plan["change_id"])
    assert change["status"] == "partially_applied"
    assert len(emu.requests_to(BATCH_PATH)) == 1  # the second batch was never sent
    titles = [emu.person_fields(HS.native(i)).get(HS.title_field) for i in idxs]
    assert titles[:100] == [TITLE] * 100 and TITLE not in titles[100:]
    row = [r for r in audit_rows(settings) if r["tool"] == "apply_change"][-1]
    assert (row["outcome"], row["error_code"]) == ("error", "frozen"), row

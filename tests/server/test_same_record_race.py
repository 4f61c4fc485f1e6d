"""Two different approved changes to the same record, applied at the same moment (catalogue
T-16): one writes, the other re-reads after it and ends as stale. No lost update.

The emulator answers slowly, so without a lock both re-reads would finish before either write
and both would write (the second silently overwriting the first)."""

from __future__ import annotations

import asyncio

from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import text_of
from tests.server.e2e_support import VENDORS, approve
from tests.server.test_changes_kit import apply, last_refusal, people, propose_titles, status


async def test_two_changes_to_one_record_write_once_and_the_other_is_stale(
    connect, runtime: Runtime, settings: Settings
):
    for vendor in sorted(VENDORS):
        v = VENDORS[vendor]
        emu = runtime.connectors.emulator(vendor)
        idx = people("subscribed", 1, start=400)[0]
        async with connect("assistant") as one, connect("assistant") as two:
            first = await propose_titles(one, v, [idx], "Title From Change A")
            second = await propose_titles(two, v, [idx], "Title From Change B")
            for plan in (first, second):
                approve(settings, plan["change_id"])
            emu.core.reset_log()
            emu.core.faults.slow_seconds = 0.05
            results = await asyncio.gather(apply(one, first), apply(two, second))
            emu.core.faults.slow_seconds = 0.0
            wins = [r for r in results if not r.is_error]
            losses = [text_of(r) for r in results if r.is_error]
            assert len(wins) == 1 and len(losses) == 1, (vendor, losses)
            assert "is stale, nothing was written" in losses[0], losses[0]
            winner = first if wins[0] is results[0] else second
            loser = second if winner is first else first
            assert await status(one, winner["change_id"]) == "applied"
            assert await status(one, loser["change_id"]) == "stale"
            assert len(runtime.require_services().applier.records) == 0  # no lock left behind
        assert len(emu.core.write_requests) == 1, vendor
        title = emu.person_fields(v.native(idx))[v.title_field]
        assert title == winner["records"][0]["changes"][0]["after"], vendor
        assert last_refusal(settings)["change_id"] == loser["change_id"]
        assert last_refusal(settings)["error_code"] == "stale"

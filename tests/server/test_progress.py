"""Long work shows its progress: a plan and an apply spanning several vendor batches send MCP
progress notifications (records read / written of the total) to a client that asked for them,
through the SDK's own in-memory client."""

from __future__ import annotations

from typing import Any

from mopsgate.server.app import Runtime
from tests.conftest import text_of
from tests.server.e2e_support import VENDORS, approve

REASON = "The user asked to fix job titles after the re-org"
N = 200  # the shipped manifest's cap per change; HubSpot reads and writes 100 per batch


class Heard:
    """What the client's progress callback received, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[float, float | None, str | None]] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.events.append((progress, total, message))

    def check_increasing(self) -> None:
        progress = [p for p, _, _ in self.events]
        assert progress == sorted(set(progress)), progress  # strictly increasing
        totals = {t for _, t, _ in self.events}
        assert len(totals) == 1 and None not in totals, totals  # one total, always given
        assert progress[-1] == totals.pop()  # and it reaches the total


async def test_plan_and_apply_report_progress_per_batch(connect, runtime: Runtime, settings):
    v = VENDORS["hubspot"]
    refs = [v.ref(i) for i in range(N)]
    emu = runtime.connectors.emulator("hubspot")
    args: dict[str, Any] = {"refs": refs, "fields": {v.title_field: "Progress Tester"}}
    async with connect("assistant") as client:
        planned = Heard()
        proposed = await client.call_tool(
            "propose_update_person", {**args, "reason": REASON}, progress_callback=planned
        )
        assert not proposed.is_error, text_of(proposed)
        plan = proposed.structured_content
        assert plan["records_total"] == N

        planned.check_increasing()
        assert [(p, t) for p, t, _ in planned.events] == [(100, N), (200, N)]
        assert planned.events[0][2] == f"planning: 100 of {N} records read"

        approve(settings, plan["change_id"])
        applied = Heard()
        result = await client.call_tool(
            "apply_change",
            {"change_id": plan["change_id"], "confirmation_token": plan["confirmation_token"]},
            progress_callback=applied,
        )
        assert not result.is_error, text_of(result)
        assert result.structured_content["status"] == "applied"

    applied.check_increasing()
    # every record re-read, then every record written: two batches each, one total
    assert [(p, t) for p, t, _ in applied.events] == [
        (100, 2 * N),
        (200, 2 * N),
        (300, 2 * N),
        (400, 2 * N),
    ]
    messages = [m for _, _, m in applied.events]
    assert messages[1] == f"re-reading before the apply: {N} of {N} records read"
    assert messages[2] == f"applying: 100 of {N} records sent (100 written)"
    assert messages[3] == f"applying: {N} of {N} records sent ({N} written)"
    assert {emu.person_fields(v.native_of(r))[v.title_field] for r in refs} == {"Progress Tester"}

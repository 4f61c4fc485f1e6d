"""What a vendor's API cannot do at all is refused from its declared capabilities, before a
single vendor call: triggers and schedules on HubSpot and Salesforce, member statuses on
HubSpot. The refusal says so and is audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.sandbox.salesforce import ids as sf
from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.server.test_changes_kit import REASON, last_refusal, people, refused

RUN_AT = (datetime.now(UTC) + timedelta(days=2)).isoformat()
CASES: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "hubspot",
        "propose_trigger_campaign",
        {"campaign_ref": hs.campaign_ref(2), "person_refs": [hs.person_ref(i) for i in (0, 1)]},
        "cannot be triggered",
    ),
    (
        "salesforce",
        "propose_trigger_campaign",
        {"campaign_ref": sf.campaign_ref(2), "person_refs": [sf.person_ref(i) for i in (0, 1)]},
        "cannot be triggered",
    ),
    (
        "hubspot",
        "propose_schedule_campaign",
        {"campaign_ref": hs.campaign_ref(0), "run_at": RUN_AT},
        "cannot be scheduled",
    ),
    (
        "salesforce",
        "propose_schedule_campaign",
        {"campaign_ref": sf.campaign_ref(0), "run_at": RUN_AT},
        "cannot be scheduled",
    ),
    (
        "hubspot",
        "propose_set_campaign_status",
        {
            "campaign_ref": hs.campaign_ref(1),
            "person_refs": [hs.person_ref(i) for i in people("subscribed", 2)],
            "status": "Attended",
        },
        "no member status ladder",
    ),
]


async def test_what_the_vendor_cannot_do_is_refused_before_any_vendor_call(
    connect, runtime: Runtime, settings: Settings
) -> None:
    """The cases one after another on one server: a refusal stores and sends nothing."""
    async with connect("assistant") as client:
        for vendor, tool, args, says in CASES:
            case = f"{vendor} {tool}"
            emu = runtime.connectors.emulator(vendor)
            before = len(emu.core.requests)
            seen = len(audit_rows(settings))
            text = await refused(client, tool, reason=REASON, **args)
            assert "[not_supported]" in text and says in text, (case, text)
            assert len(emu.core.requests) == before, case
            refusal = last_refusal(settings, tool, since=seen)
            assert refusal["error_code"] == "not_supported", case

"""A runtime on the seeded sandbox with the vendors' rate windows out of the way, for tests whose
meaning is what the tools answer, not how the clients pace themselves.

The sandbox clients pace themselves inside their emulator's windows (HubSpot: 4 searches a
second; Marketo: 90 calls in 20 s), in real time. A whole-database read of the 2,400-person
seed is 24 HubSpot searches, so every such test waited about six seconds doing nothing. Here the
windows are raised, so the clients (paced from them) never wait; the data, the daily quotas and
every answer are those of the default sandbox. Nor do they wait between retries of a fault a
test injects (each retry is still made: only the backoff is skipped). Pacing and backoff
themselves are tested where they are the point (``tests/connectors/test_*_resilience.py``, on
a fake clock).

A module opts in by importing ``unpaced_runtime``: in that module it is the ``runtime`` fixture
(so ``connect`` and every test asking for ``runtime`` get it).
"""

from __future__ import annotations

from typing import Any

import pytest

from mopsgate.sandbox.vendors import new_emulator
from mopsgate.server.app import Runtime, build_runtime
from mopsgate.server.settings import Settings
from tests.support.no_wait import no_wait_retry

UNPACED = 10**9  # calls per window: never reached


def unpaced_emulators() -> dict[str, Any]:
    """Fresh seeded emulators of every vendor, their rate windows raised."""
    emulators = {name: new_emulator(name) for name in ("marketo", "hubspot", "salesforce")}
    emulators["marketo"].set_rate_limit(UNPACED)
    emulators["hubspot"].window.max_calls = UNPACED
    emulators["hubspot"].search_window.max_calls = UNPACED
    return emulators


@pytest.fixture(name="runtime")
def unpaced_runtime(settings: Settings) -> Runtime:
    """The conftest ``runtime``, on unpaced emulators, retrying without a backoff."""
    return build_runtime(
        settings,
        env={},
        emulators=unpaced_emulators(),
        client_options={"retry": no_wait_retry()},
    )

"""A ``MarketoClient`` wired to an in-process ``MarketoEmulator`` with its sandbox credentials."""

from __future__ import annotations

from typing import Any

from mopsgate.connectors.http import RateLimiter, in_process
from mopsgate.connectors.marketo.client import MarketoClient
from mopsgate.sandbox.marketo.emulator import MarketoEmulator
from mopsgate.sandbox.marketo.ids import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

BASE_URL = "http://marketo.sandbox"


def sandbox_client(emulator: MarketoEmulator, **options: Any) -> MarketoClient:
    """Paced at 90% of the emulator's window (lower or raise it with
    ``emulator.set_rate_limit`` before calling this); ``options`` go to ``MarketoClient``."""
    window = emulator.core.window
    options.setdefault(
        "limiter", RateLimiter(max(1, window.max_calls * 9 // 10), window.per_seconds, 8)
    )
    return MarketoClient(
        BASE_URL,
        SANDBOX_CLIENT_ID,
        SANDBOX_CLIENT_SECRET,
        transport=in_process(emulator.app),
        **options,
    )

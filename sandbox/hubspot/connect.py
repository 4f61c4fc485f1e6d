"""A ``HubSpotClient`` wired to an in-process ``HubSpotEmulator`` with its sandbox credentials."""

from __future__ import annotations

from typing import Any

from mopsgate.connectors.http import RateLimiter, in_process
from mopsgate.connectors.hubspot.auth import oauth_auth
from mopsgate.connectors.hubspot.client import HubSpotClient
from mopsgate.sandbox.hubspot.emulator import HubSpotEmulator
from mopsgate.sandbox.hubspot.ids import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_REFRESH_TOKEN,
    SANDBOX_TOKEN,
)

BASE_URL = "http://hubspot.sandbox"


def sandbox_client(
    emulator: HubSpotEmulator, *, oauth: bool = False, **options: Any
) -> HubSpotClient:
    """The sandbox private-app token, or with ``oauth=True`` the sandbox OAuth app (refreshable
    tokens); ``options`` go to ``HubSpotClient``. Paced just inside the emulator's windows,
    as a client is paced inside its portal's: 90% of the ten-second burst limit, one search a
    second under the search limit (lower or raise them on the emulator before calling this)."""
    burst, search = emulator.window, emulator.search_window
    options.setdefault(
        "limiter", RateLimiter(max(1, burst.max_calls * 9 // 10), burst.per_seconds, 10)
    )
    options.setdefault(
        "search_limiter", RateLimiter(max(1, search.max_calls - 1), search.per_seconds, 4)
    )
    if oauth:
        options.setdefault(
            "auth",
            oauth_auth(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_REFRESH_TOKEN),
        )
    else:
        options.setdefault("access_token", SANDBOX_TOKEN)
    return HubSpotClient(BASE_URL, transport=in_process(emulator.app), **options)

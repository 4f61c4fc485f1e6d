"""A ``HubSpotClient`` wired to an in-process ``HubSpotEmulator`` with its sandbox credentials."""

from __future__ import annotations

from typing import Any

from mopsgate.connectors.http import in_process
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
    tokens); ``options`` go to ``HubSpotClient``."""
    if oauth:
        options.setdefault(
            "auth",
            oauth_auth(SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SANDBOX_REFRESH_TOKEN),
        )
    else:
        options.setdefault("access_token", SANDBOX_TOKEN)
    return HubSpotClient(BASE_URL, transport=in_process(emulator.app), **options)

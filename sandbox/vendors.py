"""The three emulators by connector name, and clients wired to them: the one door through which
the server's registry and ``mopsgate sandbox serve`` reach the sandbox."""

from __future__ import annotations

import importlib
from typing import Any

from mopsgate.connectors.protocol import Connector

EMULATORS: dict[str, str] = {
    "marketo": "MarketoEmulator",
    "hubspot": "HubSpotEmulator",
    "salesforce": "SalesforceEmulator",
}


def new_emulator(connector: str) -> Any:
    """A fresh emulator over the default seed (imported on first use: start-up stays lean)."""
    module = importlib.import_module(f"mopsgate.sandbox.{connector}.emulator")
    return getattr(module, EMULATORS[connector])()


def sandbox_client(connector: str, emulator: Any, **options: Any) -> Connector:
    """The connector's client wired in-process to ``emulator`` with the sandbox credentials."""
    module = importlib.import_module(f"mopsgate.sandbox.{connector}.connect")
    client: Connector = module.sandbox_client(emulator, **options)
    return client

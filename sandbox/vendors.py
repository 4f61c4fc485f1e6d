"""The three emulators by connector name, and clients wired to them: the one door through which
the server's registry and ``mopsgate sandbox serve`` reach the sandbox."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mopsgate.crm.connector import Connector

if TYPE_CHECKING:
    from mopsgate.sandbox.persist.store import SandboxStore

EMULATORS: dict[str, str] = {
    "marketo": "MarketoEmulator",
    "hubspot": "HubSpotEmulator",
    "salesforce": "SalesforceEmulator",
}
SANDBOX_FILE = "sandbox.db"


def new_emulator(connector: str, store: SandboxStore | None = None) -> Any:
    """An emulator over ``store`` (the persistent sandbox every process shares), or, without
    one, over a fresh in-memory copy of the default seed (imported on first use: start-up
    stays lean)."""
    cls = _emulator_class(connector)
    if store is None:
        from mopsgate.sandbox.seed import seed_data

        return cls(seed_data())
    return cls(state=store.state(connector), runner=store)


def _emulator_class(connector: str) -> Any:
    module = importlib.import_module(f"mopsgate.sandbox.{connector}.emulator")
    return getattr(module, EMULATORS[connector])


def open_store(home: Path) -> SandboxStore:
    """The persistent sandbox of a state directory (nothing is read until it is used)."""
    from mopsgate.sandbox.persist.store import SandboxStore

    return SandboxStore(home / SANDBOX_FILE)


def sandbox_client(connector: str, emulator: Any, **options: Any) -> Connector:
    """The connector's client wired in-process to ``emulator`` with the sandbox credentials."""
    module = importlib.import_module(f"mopsgate.sandbox.{connector}.connect")
    client: Connector = module.sandbox_client(emulator, **options)
    return client

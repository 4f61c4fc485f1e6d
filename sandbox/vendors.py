"""The three emulators by connector name, and clients wired to them: the one door through which
the server's registry and ``mopsgate sandbox serve`` reach the sandbox."""

from __future__ import annotations

import importlib
import pickle
from functools import cache
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

        fresh = pickle.loads(_seeded_state(connector))  # noqa: S301 - bytes made in this process
        return cls(seed_data(), state=fresh)
    return cls(state=store.state(connector), runner=store)


def _emulator_class(connector: str) -> Any:
    module = importlib.import_module(f"mopsgate.sandbox.{connector}.emulator")
    return getattr(module, EMULATORS[connector])


@cache
def _seeded_state(connector: str) -> bytes:
    """The in-memory state loaded from the default seed, pickled once per process: every
    runtime (every test) starts a fresh emulator, and unpickling the loaded state is about four
    times cheaper than loading the seed again. The bytes are our own, never read from outside."""
    return pickle.dumps(_emulator_class(connector)().state, protocol=pickle.HIGHEST_PROTOCOL)


def open_store(home: Path) -> SandboxStore:
    """The persistent sandbox of a state directory (nothing is read until it is used)."""
    from mopsgate.sandbox.persist.store import SandboxStore

    return SandboxStore(home / SANDBOX_FILE)


def sandbox_client(connector: str, emulator: Any, **options: Any) -> Connector:
    """The connector's client wired in-process to ``emulator`` with the sandbox credentials."""
    module = importlib.import_module(f"mopsgate.sandbox.{connector}.connect")
    client: Connector = module.sandbox_client(emulator, **options)
    return client

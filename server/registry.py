"""Builds one client per connector, sandbox or production, from the manifest's environments.

A sandbox connector gets its in-process emulator (no credentials, no network): over the
persistent sandbox file of the state directory when ``sandbox_home`` is given (every process
then sees the same data), in memory otherwise. A production one reads credentials from the
environment and fails at start-up naming the missing variable. Emulators are kept reachable for
tests and demos. This is the only server module that imports
the sandbox, and only where it wires a sandbox connector.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from mopsgate.crm.connector import Connector
from mopsgate.crm.errors import ConfigError
from mopsgate.governance.live_fields import missing_fields
from mopsgate.governance.manifest_model import Manifest
from mopsgate.server.settings import Settings

CLIENTS: dict[str, tuple[str, str]] = {
    # connector: (module, client class)
    "marketo": ("mopsgate.connectors.marketo.client", "MarketoClient"),
    "hubspot": ("mopsgate.connectors.hubspot.client", "HubSpotClient"),
    "salesforce": ("mopsgate.connectors.salesforce.client", "SalesforceClient"),
}


def client_class(connector: str) -> Any:
    module_name, cls = CLIENTS[connector]
    return getattr(importlib.import_module(module_name), cls)


class ConnectorRegistry:
    def __init__(
        self,
        environments: Callable[[], Mapping[str, str]],
        env: Mapping[str, str],
        *,
        emulators: dict[str, Any] | None = None,
        client_options: dict[str, Any] | None = None,
        sandbox_home: Path | None = None,
    ) -> None:
        self._environments = environments
        self._env = env
        self._clients: dict[tuple[str, str], Connector] = {}
        self.emulators: dict[str, Any] = dict(emulators or {})
        self._client_options = client_options or {}
        self._sandbox_home = sandbox_home
        self.sandbox_store: Any = None
        self._from_store: set[str] = set()

    def environment(self, name: str) -> str:
        envs = self._environments()
        if name not in envs:
            raise KeyError(name)
        return envs[name]

    def emulator(self, name: str) -> Any:
        if name not in self.emulators:
            from mopsgate.sandbox.vendors import new_emulator, open_store

            if self._sandbox_home is not None and self.sandbox_store is None:
                self.sandbox_store = open_store(self._sandbox_home)
            self.emulators[name] = new_emulator(name, self.sandbox_store)
            if self.sandbox_store is not None:
                self._from_store.add(name)
        return self.emulators[name]

    def get(self, name: str) -> Connector:
        environment = self.environment(name)
        key = (name, environment)
        client = self._clients.get(key)
        if client is None:
            client = self._build(name, environment)
            self._clients[key] = client
        return client

    def _build(self, name: str, environment: str) -> Connector:
        if environment == "sandbox":  # the one place the server reaches into the sandbox
            from mopsgate.sandbox.vendors import sandbox_client

            return sandbox_client(name, self.emulator(name), **self._client_options)
        client: Connector = client_class(name).from_env(self._env, **self._client_options)
        return client

    def production(self) -> list[str]:
        """The connectors the manifest puts in production."""
        return [name for name, env in self._environments().items() if env == "production"]

    def check_production(self) -> None:
        """Build every production client now, so a missing variable stops start-up."""
        for name in self.production():
            self.get(name)

    async def missing_production_fields(self, manifest: Manifest) -> list[str]:
        """Fields the manifest names that a production org's describe lacks (M-21)."""
        problems: list[str] = []
        for name in self.production():
            client = self.get(name)
            described = {
                obj: {f.name for f in await client.describe_fields(obj)}
                for obj in manifest.catalogue.person_objects.get(name, ())
            }
            problems += missing_fields(manifest, name, described)
        return problems

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
        if self.sandbox_store is not None:  # its thread ends; a reopen makes a new one
            await self.sandbox_store.aclose()
            self.sandbox_store = None
            for name in self._from_store:
                self.emulators.pop(name, None)
            self._from_store.clear()


__all__ = ["ConfigError", "ConnectorRegistry"]


def registry_for(
    settings: Settings,
    manifest: Callable[[], Manifest],
    env: Mapping[str, str] | None = None,
    *,
    emulators: dict[str, Any] | None = None,
    client_options: dict[str, Any] | None = None,
) -> ConnectorRegistry:
    """The connectors of ``settings``' state directory, for the server, the console and the
    CLI alike: ``manifest`` is read on every lookup, so a reloaded manifest's environments
    apply. The persistent sandbox lives in the state directory, so every process that opens
    it sees the very records the server's proposals were planned against."""
    return ConnectorRegistry(
        lambda: {n: str(c.environment) for n, c in manifest().connectors.items()},
        os.environ if env is None else env,
        emulators=emulators,
        client_options=client_options,
        sandbox_home=settings.home if settings.sandbox == "persistent" else None,
    )

"""Builds one client per connector, sandbox or production, from the manifest's environments.

A sandbox connector gets its in-process emulator (no credentials, no network); a production one
reads credentials from the environment and fails at start-up naming the missing variable.
Emulators are kept reachable for tests, demos and ``mopsgate sandbox serve``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from mopsgate.connectors.errors import ConfigError
from mopsgate.connectors.protocol import Connector

VENDORS: dict[str, tuple[str, str, str]] = {
    # connector: (module, client class, emulator class)
    "marketo": ("mopsgate.connectors.marketo", "MarketoClient", "MarketoEmulator"),
    "hubspot": ("mopsgate.connectors.hubspot", "HubSpotClient", "HubSpotEmulator"),
    "salesforce": ("mopsgate.connectors.salesforce", "SalesforceClient", "SalesforceEmulator"),
}


def vendor_classes(connector: str) -> tuple[Any, Any]:
    module_name, client_cls, emulator_cls = VENDORS[connector]
    client_mod = importlib.import_module(f"{module_name}.client")
    emulator_mod = importlib.import_module(f"{module_name}.emulator")
    return getattr(client_mod, client_cls), getattr(emulator_mod, emulator_cls)


class ConnectorRegistry:
    def __init__(
        self,
        environments: Callable[[], Mapping[str, str]],
        env: Mapping[str, str],
        *,
        emulators: dict[str, Any] | None = None,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        self._environments = environments
        self._env = env
        self._clients: dict[tuple[str, str], Connector] = {}
        self.emulators: dict[str, Any] = dict(emulators or {})
        self._client_options = client_options or {}

    def environment(self, name: str) -> str:
        envs = self._environments()
        if name not in envs:
            raise KeyError(name)
        return envs[name]

    def emulator(self, name: str) -> Any:
        if name not in self.emulators:
            _, emulator_cls = vendor_classes(name)
            self.emulators[name] = emulator_cls()
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
        client_cls, _ = vendor_classes(name)
        if environment == "sandbox":
            return client_cls.sandbox(self.emulator(name), **self._client_options)  # type: ignore[no-any-return]
        return client_cls.from_env(self._env, **self._client_options)  # type: ignore[no-any-return]

    def check_production(self) -> None:
        """Build every production client now, so a missing variable stops start-up."""
        for name, environment in self._environments().items():
            if environment == "production":
                self.get(name)

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()


__all__ = ["ConfigError", "ConnectorRegistry"]

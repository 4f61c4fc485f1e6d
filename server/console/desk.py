"""What the console works with: the manifest in force, storage, connectors, a clock.

The console is its own process and listener. It opens the same storage the MCP server uses
(changes, freeze, invites, the audit log), reads the same manifest file, and builds its own
connector clients to look up what a change touches. It runs no start-up recovery and no apply:
it only reads changes and records decisions, through the same governance functions as
``mopsgate review``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.change_facts import RecentScans
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.ports import SYSTEM_CLOCK, Clock
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.manifest_gate import storage_gate
from mopsgate.server.manifest_holder import ManifestHolder
from mopsgate.server.manifest_provenance import last_in_force
from mopsgate.server.registry import ConnectorRegistry, registry_for
from mopsgate.server.settings import Settings, ensure_home
from mopsgate.storage import Storage, open_storage
from mopsgate.storage.errors import StorageUnavailable


@dataclass
class ConsoleDesk:
    settings: Settings
    holder: ManifestHolder
    connectors: ConnectorRegistry
    clock: Clock = SYSTEM_CLOCK
    scans: RecentScans = field(default_factory=RecentScans)  # campaigns, read once a minute
    _storage: Storage | None = None

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        env: dict[str, str] | None = None,
        emulators: dict[str, Any] | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> ConsoleDesk:
        """Load the manifest (ManifestError when invalid) and prepare connectors."""
        holder = ManifestHolder(settings.manifest_path, build_catalogue())
        connectors = registry_for(settings, lambda: holder.manifest, env, emulators=emulators)
        return cls(settings, holder, connectors, clock)

    async def open(self) -> None:
        ensure_home(self.settings)
        self._storage = await open_storage(self.settings.storage())
        # The version in force is the server's: a widening edit waits for its approval here too.
        self.holder.gate = storage_gate(self._storage)
        await self.holder.start(await last_in_force(self._storage.manifests))

    async def close(self) -> None:
        self.holder.gate = None
        if self._storage is not None:
            await self._storage.close()
            self._storage = None
        await self.connectors.aclose()

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            raise StorageUnavailable(
                "the console's storage is not open", hint="Restart mopsgate console."
            )
        return self._storage

    async def manifest(self) -> tuple[Manifest, str]:
        return await self.holder.current()

    async def audit(self, **fields: Any) -> None:
        """One audit row per console action, refused ones included (AuditUnavailable when it
        cannot be made durable: the action then fails too)."""
        await self.storage.audit.append(AuditEvent(transport="console", **fields))

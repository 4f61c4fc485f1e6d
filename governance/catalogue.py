"""What exists, as far as the manifest is concerned.

The core validates a manifest against a catalogue it is given rather than importing the tool
and connector packages, so it stays free of MCP and HTTP and can be tested with a small one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mopsgate.crm.capabilities import Capabilities
from mopsgate.governance.risk import RiskClass

CONNECTORS: tuple[str, ...] = ("marketo", "hubspot", "salesforce")


@dataclass(frozen=True)
class ObjectFields:
    """Field names of one vendor object, with the ones that are PII or consent by default."""

    fields: frozenset[str]
    pii: frozenset[str] = frozenset()
    consent: frozenset[str] = frozenset()
    read_only: frozenset[str] = frozenset()
    lifecycle: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Catalogue:
    tools: Mapping[str, RiskClass]
    # connector -> object -> fields
    objects: Mapping[str, Mapping[str, ObjectFields]] = field(default_factory=dict)
    connectorless_tools: frozenset[str] = frozenset()
    # connector -> the objects that are lists (what a list reference may name)
    list_objects: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # connector -> its person objects, in the order they are searched (the first is the default)
    person_objects: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # connector -> person object -> role (email, owner_id, ...) -> the vendor field playing it
    roles: Mapping[str, Mapping[str, Mapping[str, str]]] = field(default_factory=dict)
    # connector -> what its API allows (batch sizes, list and campaign objects, ...)
    capabilities: Mapping[str, Capabilities] = field(default_factory=dict)

    def field_for(self, connector: str, obj: str, role: str) -> str | None:
        """The vendor field that plays ``role`` on this object, if any."""
        return self.roles.get(connector, {}).get(obj, {}).get(role)

    def fields_of(self, connector: str) -> frozenset[str]:
        """All field names any object of this connector has (for validating field rules)."""
        out: set[str] = set()
        for obj in self.objects.get(connector, {}).values():
            out |= obj.fields
        return frozenset(out)

"""What exists, as far as the manifest is concerned.

The core validates a manifest against a catalogue it is given rather than importing the tool
and connector packages, so it stays free of MCP and HTTP and can be tested with a small one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

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

    def fields_of(self, connector: str) -> frozenset[str]:
        """All field names any object of this connector has (for validating field rules)."""
        out: set[str] = set()
        for obj in self.objects.get(connector, {}).values():
            out |= obj.fields
        return frozenset(out)

"""Finding a connector's capabilities (``crm/capabilities.py``) by name.

Each vendor declares its own in ``connectors/<vendor>/capabilities.py``; its client carries it as
``capabilities``, and ``capabilities_of`` finds it by connector name where no client is at hand
(input checks, the catalogue) without importing the clients.
"""

from __future__ import annotations

import importlib
from functools import cache

from mopsgate.crm.capabilities import Capabilities


@cache
def capabilities_of(connector: str) -> Capabilities:
    """The capabilities of a connector by name (KeyError for an unknown one)."""
    if connector not in ("marketo", "hubspot", "salesforce"):
        raise KeyError(connector)
    module = importlib.import_module(f"mopsgate.connectors.{connector}.capabilities")
    caps: Capabilities = module.CAPABILITIES
    return caps

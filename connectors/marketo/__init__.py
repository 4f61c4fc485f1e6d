"""Marketo Engage connector: REST client, sandbox emulator and the seed id scheme."""

from mopsgate.connectors.marketo.client import MarketoClient
from mopsgate.connectors.marketo.emulator import MarketoEmulator

__all__ = ["MarketoClient", "MarketoEmulator"]

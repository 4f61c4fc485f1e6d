"""Marketo Engage connector: REST client, sandbox emulator and the seed id scheme."""

from connectors.marketo.client import MarketoClient
from connectors.marketo.emulator import MarketoEmulator

__all__ = ["MarketoClient", "MarketoEmulator"]

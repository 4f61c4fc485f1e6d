"""HubSpot connector: client, sandbox emulator and the seed → id scheme."""

from mopsgate.connectors.hubspot.client import HubSpotClient
from mopsgate.connectors.hubspot.emulator import HubSpotEmulator

__all__ = ["HubSpotClient", "HubSpotEmulator"]

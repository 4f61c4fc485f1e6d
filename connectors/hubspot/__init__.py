"""HubSpot connector: client, sandbox emulator and the seed → id scheme."""

from connectors.hubspot.client import HubSpotClient
from connectors.hubspot.emulator import HubSpotEmulator

__all__ = ["HubSpotClient", "HubSpotEmulator"]

"""The HubSpot emulator, its seed numbering and a client wired to it."""

from mopsgate.sandbox.hubspot.connect import sandbox_client
from mopsgate.sandbox.hubspot.emulator import HubSpotEmulator

__all__ = ["HubSpotEmulator", "sandbox_client"]

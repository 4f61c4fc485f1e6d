"""HubSpot connector: the client. Its sandbox emulator lives in ``sandbox/hubspot/``."""

from mopsgate.connectors.hubspot.client import HubSpotClient

__all__ = ["HubSpotClient"]

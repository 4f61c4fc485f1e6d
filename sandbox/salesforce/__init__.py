"""The Salesforce emulator, its seed numbering and a client wired to it."""

from mopsgate.sandbox.salesforce.connect import sandbox_client
from mopsgate.sandbox.salesforce.emulator import SalesforceEmulator

__all__ = ["SalesforceEmulator", "sandbox_client"]

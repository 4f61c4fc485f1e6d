"""Salesforce connector: REST + SOQL client and an in-process sandbox emulator."""

from mopsgate.connectors.salesforce.client import SalesforceClient
from mopsgate.connectors.salesforce.emulator import SalesforceEmulator

__all__ = ["SalesforceClient", "SalesforceEmulator"]

"""Salesforce connector: REST + SOQL client and an in-process sandbox emulator."""

from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.emulator import SalesforceEmulator

__all__ = ["SalesforceClient", "SalesforceEmulator"]

"""Salesforce connector: the REST + SOQL client (its emulator lives in ``sandbox/salesforce/``)."""

from mopsgate.connectors.salesforce.client import SalesforceClient

__all__ = ["SalesforceClient"]

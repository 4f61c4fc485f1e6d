"""A ``SalesforceClient`` wired to an in-process ``SalesforceEmulator`` with its sandbox
credentials."""

from __future__ import annotations

from typing import Any

from mopsgate.connectors.http import in_process
from mopsgate.connectors.salesforce.client import SalesforceClient
from mopsgate.sandbox.salesforce.emulator import SalesforceEmulator
from mopsgate.sandbox.salesforce.ids import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

LOGIN_URL = "https://sandbox.my.salesforce.test"


def sandbox_client(emulator: SalesforceEmulator, **options: Any) -> SalesforceClient:
    """``options`` go to ``SalesforceClient``."""
    options.setdefault("transport", in_process(emulator.app))
    return SalesforceClient(LOGIN_URL, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, **options)

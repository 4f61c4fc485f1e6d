"""The Marketo Engage emulator, its seed numbering and a client wired to it."""

from mopsgate.sandbox.marketo.connect import sandbox_client
from mopsgate.sandbox.marketo.emulator import MarketoEmulator

__all__ = ["MarketoEmulator", "sandbox_client"]

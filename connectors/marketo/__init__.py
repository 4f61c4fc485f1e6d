"""Marketo Engage connector: the REST client. Its sandbox emulator lives in ``sandbox/marketo/``."""

from mopsgate.connectors.marketo.client import MarketoClient

__all__ = ["MarketoClient"]

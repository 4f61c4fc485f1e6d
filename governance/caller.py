"""Who is calling, as every audit row records it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Caller:
    """``principal`` is None when the transport could not identify one (the call is then
    refused, and audited as ``(unknown)``)."""

    principal: str | None
    transport: str
    client_name: str | None = None
    client_version: str | None = None

"""How the Marketo emulator says no: response-level errors (HTTP 200, ``success:false`` and a
quoted 6xx/7xx/1xxx code), raised as ``MktoError`` anywhere under a handler, and record-level
``skipped`` results with their reasons."""

from __future__ import annotations

from typing import Any


class MktoError(Exception):
    """A response-level Marketo error (HTTP 200, ``success:false``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


def skipped(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {**extra, "status": "skipped", "reasons": [{"code": code, "message": message}]}

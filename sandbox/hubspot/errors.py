"""How the HubSpot emulator says no: HubSpot's error body (``status, message, category,
correlationId...``), its 400 validation and 404 answers, and the per-record errors of a 207
batch. Handlers raise ``BadInput`` for input HubSpot would refuse with a 400."""

from __future__ import annotations

import json
import uuid
from typing import Any

from starlette.responses import JSONResponse

from mopsgate.sandbox.emulator_base import VendorAnswer


def hs_error(
    status: int,
    message: str,
    category: str,
    *,
    errors: list[Any] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        "errors": errors or [],
        "context": {},
        "links": {},
        **extra,
    }
    return JSONResponse(body, status_code=status, headers=headers)


def validation_error(message: str, **extra: Any) -> JSONResponse:
    return hs_error(400, message, "VALIDATION_ERROR", **extra)


def invalid_properties(problems: list[dict[str, Any]]) -> JSONResponse:
    """One 400 listing every property problem (``search.validate_props``), as HubSpot does."""
    return validation_error(
        "Property values were not valid: " + json.dumps(problems),
        errors=[{"message": x["message"], "code": x["error"], "in": x["name"]} for x in problems],
    )


def not_found(what: str) -> JSONResponse:
    return hs_error(404, f"{what} not found", "OBJECT_NOT_FOUND")


class BadInput(VendorAnswer):
    """Input HubSpot refuses with 400 VALIDATION_ERROR; raised anywhere under a handler."""

    def __init__(self, message: str) -> None:
        super().__init__(validation_error(message))
        self.message = message


def record_error(category: str, message: str, ids: list[str]) -> dict[str, Any]:
    return {
        "status": "error",
        "category": category,
        "message": message,
        "context": {"ids": ids},
        "errors": [],
        "links": {},
    }

"""How the Salesforce emulator says no: the REST error array ``[{message, errorCode, fields}]``,
the OAuth error object, and the per-record SaveResult error."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

ErrorBody = dict[str, Any]


def sf_error(status: int, code: str, message: str, fields: list[str] | None = None) -> JSONResponse:
    return JSONResponse([{"message": message, "errorCode": code, "fields": fields or []}], status)


def not_found() -> JSONResponse:
    return sf_error(404, "NOT_FOUND", "The requested resource does not exist")


def oauth_error(code: str, description: str) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, 400)


def record_error(code: str, message: str, fields: list[str] | None = None) -> ErrorBody:
    return {"statusCode": code, "message": message, "fields": fields or []}

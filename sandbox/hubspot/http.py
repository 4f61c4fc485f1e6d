"""Envelope helpers shared by the emulator's route modules: HubSpot error bodies, JSON body
parsing and cursor/limit parameters, so every route refuses bad input the same way."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


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


def not_found(what: str) -> JSONResponse:
    return hs_error(404, f"{what} not found", "OBJECT_NOT_FOUND")


class BadInput(ValueError):
    """Raised inside handlers; turned into a 400 VALIDATION_ERROR by ``guard``."""


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise BadInput("Invalid input JSON on line 1: the body is not valid JSON") from exc


def int_param(value: Any, name: str, default: int, maximum: int | None = None) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise BadInput(f"{name} must be an integer, got {value!r}") from exc
    if number < 0 or (maximum is not None and number > maximum):
        raise BadInput(f"{name} must be between 0 and {maximum}, got {number}")
    return number


def batch_inputs(body: Any, cap: int = 100) -> list[Any]:
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list):
        raise BadInput("inputs must be an array")
    if len(inputs) > cap:
        raise BadInput(f"Batch input limit exceeded: {len(inputs)} inputs (max {cap})")
    return inputs


def batch_response(
    results: list[Any], errors: list[dict[str, Any]], started: str, *, empty_ok_status: int = 200
) -> Response:
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": started,
    }
    if errors:
        body["errors"] = errors
        body["numErrors"] = sum(len(e["context"].get("ids", [])) or 1 for e in errors)
        return JSONResponse(body, status_code=207)
    if empty_ok_status == 204:
        return Response(status_code=204)
    return JSONResponse(body, status_code=empty_ok_status)


def record_error(category: str, message: str, ids: list[str]) -> dict[str, Any]:
    return {
        "status": "error",
        "category": category,
        "message": message,
        "context": {"ids": ids},
        "errors": [],
        "links": {},
    }


def paging(next_after: str | None, base: str) -> dict[str, Any]:
    if next_after is None:
        return {}
    return {"paging": {"next": {"after": next_after, "link": f"{base}?after={next_after}"}}}


Handler = Callable[[Request], Awaitable[Response]]


def guard(fn: Handler) -> Handler:
    async def wrapped(request: Request) -> Response:
        try:
            return await fn(request)
        except BadInput as exc:
            return validation_error(str(exc))

    return wrapped


def query_list(request: Request, name: str) -> list[str]:
    """HubSpot accepts list params both repeated and comma-separated."""
    out: list[str] = []
    for value in request.query_params.getlist(name):
        out.extend(v for v in value.split(",") if v)
    return out

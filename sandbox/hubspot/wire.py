"""Reading HubSpot requests and shaping their answers, the same way in every route: JSON bodies,
integer and list parameters, batch inputs, paging links and 200/207/204 batch answers."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mopsgate.sandbox.hubspot.errors import BadInput


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


def query_list(request: Request, name: str) -> list[str]:
    """HubSpot accepts list params both repeated and comma-separated."""
    out: list[str] = []
    for value in request.query_params.getlist(name):
        out.extend(v for v in value.split(",") if v)
    return out


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


def paging(next_after: str | None, base: str) -> dict[str, Any]:
    if next_after is None:
        return {}
    return {"paging": {"next": {"after": next_after, "link": f"{base}?after={next_after}"}}}

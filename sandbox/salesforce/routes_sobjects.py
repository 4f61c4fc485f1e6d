"""sObject endpoints: the global describe, an object's basics and describe, one record (read,
update, delete; ``?fields=`` on read), a new Lead / Contact / CampaignMember, and sObject
Collections writes (``/composite/sobjects``, ≤200 records per call).

A single-record write runs through the same ``Collections`` rules as a collection of one, all
or none, and answers as Salesforce does: 201 with the new id, 204, or the error array.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mopsgate.connectors.salesforce import fields as cat
from mopsgate.sandbox.emulator_base import Gate
from mopsgate.sandbox.faults import Faults
from mopsgate.sandbox.salesforce import describe, ids
from mopsgate.sandbox.salesforce.errors import not_found, sf_error
from mopsgate.sandbox.salesforce.rules import MAX_RECORDS, Collections
from mopsgate.sandbox.salesforce.state import OrgState
from mopsgate.sandbox.salesforce.wire import project

# A record error that means "no such record": answered 404 NOT_FOUND, as for a read.
_MISSING = {"INVALID_CROSS_REFERENCE_KEY", "MALFORMED_ID"}


class SObjectRoutes:
    def __init__(self, state: OrgState, faults: Faults) -> None:
        self.state = state
        self.collections = Collections(state, faults)

    # reads ----------------------------------------------------------------------------------
    async def sobject(self, request: Request) -> Response:
        obj = cat.canonical_object(request.path_params["obj"])
        native_id = request.path_params["id"]
        if obj is None or not ids.valid_id(native_id, obj):
            return not_found()
        rec = self.state.record(obj, native_id)
        if rec is None:
            if self.state.is_deleted(native_id):
                return sf_error(404, "ENTITY_IS_DELETED", "entity is deleted")
            return not_found()
        wanted = request.query_params.get("fields")
        names = [f.strip() for f in wanted.split(",")] if wanted else list(cat.object_fields(obj))
        paths: list[str] = []
        for name in names:
            canonical = cat.canonical_field(obj, name)
            if canonical is None:
                message = f"No such column '{name}' on entity '{obj}'."
                return sf_error(400, "INVALID_FIELD", message)
            paths.append(canonical)
        version = request.path_params["version"]
        return JSONResponse(project(self.state, version, obj, rec, paths))

    async def global_describe(self, request: Request) -> Response:
        return JSONResponse(describe.global_describe(request.path_params["version"]))

    async def basic(self, request: Request) -> Response:
        obj = cat.canonical_object(request.path_params["obj"])
        if obj is None:
            return not_found()
        return JSONResponse(describe.basic(request.path_params["version"], obj))

    async def describe(self, request: Request) -> Response:
        obj = cat.canonical_object(request.path_params["obj"])
        if obj is None:
            return not_found()
        return JSONResponse(describe.describe(request.path_params["version"], obj))

    # one record -----------------------------------------------------------------------------
    async def create(self, request: Request) -> Response:
        obj = cat.canonical_object(request.path_params["obj"])
        if obj is None:
            return not_found()
        body = await _record_body(request)
        if isinstance(body, Response):
            return body
        [result] = self.collections.run("POST", [{**body, "attributes": {"type": obj}}], True)
        if not result["success"]:
            return _refusal(result)
        return JSONResponse({"id": result["id"], "success": True, "errors": []}, 201)

    async def update(self, request: Request) -> Response:
        obj = cat.canonical_object(request.path_params["obj"])
        native_id = request.path_params["id"]
        if obj is None or not ids.valid_id(native_id, obj):
            return not_found()
        body = await _record_body(request)
        if isinstance(body, Response):
            return body
        record = {**body, "attributes": {"type": obj}, "id": native_id}
        [result] = self.collections.run("PATCH", [record], True)
        return Response(status_code=204) if result["success"] else _refusal(result)

    async def delete(self, request: Request) -> Response:
        obj = cat.canonical_object(request.path_params["obj"])
        native_id = request.path_params["id"]
        if obj is None or not ids.valid_id(native_id, obj):
            return not_found()
        [result] = self.collections.run("DELETE", [native_id], True)
        return Response(status_code=204) if result["success"] else _refusal(result)

    # collections ----------------------------------------------------------------------------
    async def composite(self, request: Request) -> Response:
        if request.method == "DELETE":
            raw = request.query_params.get("ids", "")
            targets: list[Any] = [i for i in raw.split(",") if i]
            all_or_none = request.query_params.get("allOrNone", "false").lower() == "true"
        else:
            try:
                body = await request.json()
                targets = list(body["records"])
                all_or_none = bool(body.get("allOrNone", False))
            except (ValueError, KeyError, TypeError):
                return sf_error(
                    400,
                    "JSON_PARSER_ERROR",
                    "The request body is not valid: expected {allOrNone, records: [...]}",
                )
        if not targets:
            return sf_error(400, "INVALID_FIELD", "No records to process")
        if len(targets) > MAX_RECORDS:
            return sf_error(
                400,
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {MAX_RECORDS} records into "
                "this call",
            )
        return JSONResponse(self.collections.run(request.method, targets, all_or_none))


async def _record_body(request: Request) -> dict[str, Any] | Response:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return sf_error(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    return body


def _refusal(result: dict[str, Any]) -> Response:
    error = result["errors"][0]
    code = str(error["statusCode"])
    if code in _MISSING:
        return not_found()
    status = 404 if code == "ENTITY_IS_DELETED" else 400
    return sf_error(status, code, str(error["message"]), list(error.get("fields") or []))


def routes(gate: Gate, state: OrgState, faults: Faults) -> list[Route]:
    r = SObjectRoutes(state, faults)
    data = "/services/data/{version}"
    sobjects, one = f"{data}/sobjects", f"{data}/sobjects/{{obj}}"
    return [
        gate.route(sobjects, r.global_describe),
        gate.route(sobjects + "/", r.global_describe),
        gate.route(one, r.basic),
        gate.route(one + "/", r.basic),
        gate.route(one, r.create, ["POST"], write=True),
        gate.route(one + "/", r.create, ["POST"], write=True),
        gate.route(one + "/describe", r.describe),
        gate.route(one + "/describe/", r.describe),
        gate.route(one + "/{id}", r.sobject),
        gate.route(one + "/{id}", r.update, ["PATCH"], write=True),
        gate.route(one + "/{id}", r.delete, ["DELETE"], write=True),
        gate.route(
            f"{data}/composite/sobjects", r.composite, ["POST", "PATCH", "DELETE"], write=True
        ),
    ]

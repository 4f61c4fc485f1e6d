"""sObject endpoints: one record by id (``?fields=``), a person object's describe, and sObject
Collections writes (``/composite/sobjects``, ≤200 records per call)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mopsgate.connectors.salesforce import fields as cat
from mopsgate.connectors.schema import FieldSpec
from mopsgate.sandbox.emulator_base import Gate
from mopsgate.sandbox.faults import Faults
from mopsgate.sandbox.salesforce import ids
from mopsgate.sandbox.salesforce.errors import not_found, sf_error
from mopsgate.sandbox.salesforce.rules import MAX_RECORDS, Collections
from mopsgate.sandbox.salesforce.state import OrgState, Record
from mopsgate.sandbox.salesforce.wire import project


class SObjectRoutes:
    def __init__(self, state: OrgState, faults: Faults) -> None:
        self.state = state
        self.collections = Collections(state, faults)

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

    async def describe(self, request: Request) -> Response:
        obj = cat.canonical_object(request.path_params["obj"])
        if obj not in ids.PERSON_OBJECTS:
            return not_found()
        fields_out: list[Record] = [_describe_field(spec) for spec in cat.person_specs(obj)]
        fields_out.append(
            {
                "name": "Name",
                "label": "Full Name",
                "type": "string",
                "updateable": False,
                "createable": False,
                "nillable": False,
                "custom": False,
                "picklistValues": [],
                "complianceGroup": "PII",
            }
        )
        return JSONResponse(
            {
                "name": obj,
                "label": obj,
                "custom": False,
                "queryable": True,
                "updateable": True,
                "fields": fields_out,
            }
        )

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


def _describe_field(spec: FieldSpec) -> Record:
    return {
        "name": spec.name,
        "label": spec.label,
        "type": "id" if spec.name == "Id" else cat.SF_TYPES[spec.type],
        "updateable": not spec.read_only,
        "createable": not spec.read_only,
        "nillable": spec.type != "boolean" and spec.name not in ("Id", "LastName"),
        "custom": spec.name.endswith("__c"),
        "picklistValues": [
            {"value": v, "label": v, "active": True, "defaultValue": False} for v in spec.picklist
        ],
        # Not in describe: FieldDefinition classification, surfaced here.
        "complianceGroup": "PII" if spec.pii else None,
    }


def routes(gate: Gate, state: OrgState, faults: Faults) -> list[Route]:
    r = SObjectRoutes(state, faults)
    data = "/services/data/{version}"
    return [
        gate.route(f"{data}/sobjects/{{obj}}/describe", r.describe),
        gate.route(f"{data}/sobjects/{{obj}}/{{id}}", r.sobject),
        gate.route(
            f"{data}/composite/sobjects", r.composite, ["POST", "PATCH", "DELETE"], write=True
        ),
    ]

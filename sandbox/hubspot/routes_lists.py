"""Lists API routes of the HubSpot emulator (search, fetch, memberships, record memberships and
membership writes) for one path family. DYNAMIC lists refuse membership writes as HubSpot
does: their members come from filters."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mopsgate.connectors.hubspot.paths import Paths
from mopsgate.sandbox.emulator_base import Gate
from mopsgate.sandbox.faults import Faults
from mopsgate.sandbox.hubspot import rules
from mopsgate.sandbox.hubspot.errors import BadInput, not_found, validation_error
from mopsgate.sandbox.hubspot.state import PortalList, PortalState
from mopsgate.sandbox.hubspot.wire import int_param, json_body, paging, query_list


def list_json(lst: PortalList) -> dict[str, Any]:
    return {
        "listId": lst.id,
        "listVersion": lst.version,
        "name": lst.name,
        "objectTypeId": "0-1",
        "processingType": lst.processing_type,
        "processingStatus": "COMPLETE",
        "createdAt": lst.created_at,
        "updatedAt": lst.updated_at,
        "filtersUpdatedAt": lst.created_at,
        "size": len(lst.members),
        "additionalProperties": {
            "hs_list_size": str(len(lst.members)),
            "hs_list_reference_count": "0",
        },
    }


class ListRoutes:
    def __init__(self, state: PortalState, faults: Faults, p: Paths) -> None:
        self.state = state
        self.faults = faults
        self.p = p

    async def search(self, request: Request) -> Response:
        body = await json_body(request) or {}
        if not isinstance(body, dict):
            raise BadInput("search body must be an object")
        count = int_param(body.get("count"), "count", 20, 500)
        offset = int_param(body.get("offset"), "offset", 0)
        text = str(body.get("query") or "").lower()
        types = body.get("processingTypes") or []
        hits = [
            lst
            for lst in self.state.lists()
            if text in lst.name.lower() and (not types or lst.processing_type in types)
        ]
        page = hits[offset : offset + count]
        return JSONResponse(
            {
                "lists": [list_json(x) for x in page],
                "total": len(hits),
                "offset": offset + len(page),
                "hasMore": offset + len(page) < len(hits),
            }
        )

    async def get_many(self, request: Request) -> Response:
        wanted = query_list(request, "listIds")
        found = [self.state.list_by_id(i) for i in wanted]
        return JSONResponse({"lists": [list_json(lst) for lst in found if lst is not None]})

    async def get_one(self, request: Request) -> Response:
        lst = self.state.list_by_id(request.path_params["list_id"])
        if lst is None:
            return not_found(f"List {request.path_params['list_id']!r}")
        return JSONResponse({"list": list_json(lst)})

    async def members(self, request: Request) -> Response:
        lst = self.state.list_by_id(request.path_params["list_id"])
        if lst is None:
            return not_found(f"List {request.path_params['list_id']!r}")
        limit = int_param(request.query_params.get("limit"), "limit", 100, 250)
        after = int_param(request.query_params.get("after"), "after", 0)
        ids_sorted = sorted((int(i) for i in lst.members), reverse=False)
        page = [i for i in ids_sorted if i > after][: limit + 1]
        more = len(page) > limit
        page = page[:limit]
        results = [{"recordId": str(i), "membershipTimestamp": lst.members[str(i)]} for i in page]
        return JSONResponse(
            {
                "results": results,
                "total": len(ids_sorted),
                **paging(str(page[-1]) if more else None, self.p.list(lst.id) + "/memberships"),
            }
        )

    async def record_memberships(self, request: Request) -> Response:
        rid = request.path_params["record_id"]
        rows = [
            {
                "listId": lst.id,
                "listVersion": lst.version,
                "firstAddedTimestamp": lst.members[rid],
                "lastAddedTimestamp": lst.members[rid],
            }
            for lst in self.state.lists()
            if rid in lst.members
        ]
        return JSONResponse({"results": rows, "total": len(rows)})

    async def add(self, request: Request) -> Response:
        return await self._write(request, adding=True)

    async def delete(self, request: Request) -> Response:
        """``DELETE lists/{listId}``: 204; the emulator does not keep it for restoring."""
        if self.state.list_by_id(request.path_params["list_id"]) is None:
            return not_found(f"List {request.path_params['list_id']!r}")
        self.state.remove_list(request.path_params["list_id"])
        return Response(status_code=204)

    async def remove(self, request: Request) -> Response:
        return await self._write(request, adding=False)

    async def _write(self, request: Request, *, adding: bool) -> Response:
        lst = self.state.list_by_id(request.path_params["list_id"])
        if lst is None:
            return not_found(f"List {request.path_params['list_id']!r}")
        if lst.processing_type not in ("MANUAL", "SNAPSHOT"):
            return validation_error(
                f"List {lst.id} has processingType {lst.processing_type}; memberships can only "
                "be changed manually for MANUAL or SNAPSHOT lists",
                subCategory="ILS.LIST_PROCESSING_TYPE_NOT_SUPPORTED",
            )
        body = await json_body(request)
        if not isinstance(body, list) or not all(isinstance(x, str) for x in body):
            raise BadInput("the body must be a JSON array of record id strings")
        changed, missing = rules.change_membership(
            self.state, lst.id, body, adding=adding, failing=self.faults.fail_record_ids
        )
        return JSONResponse(
            {
                "recordsIdsAdded": changed if adding else [],  # sic: HubSpot's spelling
                "recordIdsRemoved": [] if adding else changed,
                "recordIdsMissing": missing,
            }
        )


def routes(gate: Gate, state: PortalState, faults: Faults, p: Paths) -> list[Route]:
    r = ListRoutes(state, faults, p)
    base = p.lists
    return [
        gate.route(f"{base}/search", r.search, ["POST"]),
        gate.route(f"{base}/records/0-1/{{record_id}}/memberships", r.record_memberships),
        gate.route(base, r.get_many),
        gate.route(base + "/", r.get_many),
        gate.route(base + "/{list_id}", r.get_one),
        gate.route(base + "/{list_id}", r.delete, ["DELETE"], write=True),
        gate.route(base + "/{list_id}/memberships", r.members),
        gate.route(base + "/{list_id}/memberships/add", r.add, ["PUT"], write=True),
        gate.route(base + "/{list_id}/memberships/remove", r.remove, ["PUT"], write=True),
    ]

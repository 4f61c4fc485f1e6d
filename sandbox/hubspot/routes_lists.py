"""Lists API routes of the emulator (search, fetch, memberships, record memberships and
membership writes) for one path family. DYNAMIC lists refuse membership writes as HubSpot
does: their members come from filters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mopsgate.connectors.hubspot.paths import Paths
from mopsgate.sandbox.hubspot.http import (
    BadInput,
    guard,
    int_param,
    json_body,
    not_found,
    paging,
    query_list,
    validation_error,
)
from mopsgate.sandbox.hubspot.state import PortalList, now_iso

if TYPE_CHECKING:
    from mopsgate.sandbox.hubspot.emulator import HubSpotEmulator


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


class _ListRoutes:
    def __init__(self, emu: HubSpotEmulator, p: Paths) -> None:
        self.emu = emu
        self.p = p
        self.state = emu.state

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
            for lst in sorted(self.state.lists.values(), key=lambda x: int(x.id))
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
        return JSONResponse(
            {"lists": [list_json(self.state.lists[i]) for i in wanted if i in self.state.lists]}
        )

    async def get_one(self, request: Request) -> Response:
        lst = self.state.lists.get(request.path_params["list_id"])
        if lst is None:
            return not_found(f"List {request.path_params['list_id']!r}")
        return JSONResponse({"list": list_json(lst)})

    async def members(self, request: Request) -> Response:
        lst = self.state.lists.get(request.path_params["list_id"])
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
            for lst in sorted(self.state.lists.values(), key=lambda x: int(x.id))
            if rid in lst.members
        ]
        return JSONResponse({"results": rows, "total": len(rows)})

    async def add(self, request: Request) -> Response:
        return await _write(self.emu, request, adding=True)

    async def remove(self, request: Request) -> Response:
        return await _write(self.emu, request, adding=False)

    def routes(self) -> list[Route]:
        base = self.p.lists
        return [
            Route(f"{base}/search", guard(self.search), methods=["POST"]),
            Route(
                f"{base}/records/0-1/{{record_id}}/memberships",
                guard(self.record_memberships),
                methods=["GET"],
            ),
            Route(base, guard(self.get_many), methods=["GET"]),
            Route(base + "/", guard(self.get_many), methods=["GET"]),
            Route(base + "/{list_id}", guard(self.get_one), methods=["GET"]),
            Route(base + "/{list_id}/memberships", guard(self.members), methods=["GET"]),
            Route(base + "/{list_id}/memberships/add", guard(self.add), methods=["PUT"]),
            Route(base + "/{list_id}/memberships/remove", guard(self.remove), methods=["PUT"]),
        ]


def routes(emu: HubSpotEmulator, p: Paths) -> list[Route]:
    return _ListRoutes(emu, p).routes()


async def _write(emu: HubSpotEmulator, request: Request, *, adding: bool) -> Response:
    state = emu.state
    lst = state.lists.get(request.path_params["list_id"])
    if lst is None:
        return not_found(f"List {request.path_params['list_id']!r}")
    if lst.processing_type not in ("MANUAL", "SNAPSHOT"):
        return validation_error(
            f"List {lst.id} has processingType {lst.processing_type}; memberships can only be "
            "changed manually for MANUAL or SNAPSHOT lists",
            subCategory="ILS.LIST_PROCESSING_TYPE_NOT_SUPPORTED",
        )
    body = await json_body(request)
    if not isinstance(body, list) or not all(isinstance(x, str) for x in body):
        raise BadInput("the body must be a JSON array of record id strings")
    changed, missing = [], []
    stamp = now_iso()
    for rid in body:
        if rid not in state.contacts or rid in emu.core.faults.fail_record_ids:
            missing.append(rid)
        elif adding and rid not in lst.members:
            lst.members[rid] = stamp
            changed.append(rid)
            state.log("list_added", rid, {"listId": lst.id})
        elif not adding and rid in lst.members:
            del lst.members[rid]
            changed.append(rid)
            state.log("list_removed", rid, {"listId": lst.id})
    if changed:
        lst.version += 1
        lst.updated_at = stamp
    key = "recordsIdsAdded" if adding else "recordIdsRemoved"  # sic: HubSpot's spelling
    return JSONResponse({key: changed, "recordIdsMissing": missing})

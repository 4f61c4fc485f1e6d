"""Associations between contacts and companies, as the v4 associations API serves them (and
the dated family under the object itself): create the default (unlabeled) association or one
with explicit types, list a record's associations of one type, and remove them.

Type ids are HubSpot's own: contact → company 279 (unlabeled) and 1 (primary), company →
contact 280 and 2. Associations with any other object type are refused: the sandbox has
contacts and companies only.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mopsgate.connectors.hubspot.paths import Paths
from mopsgate.sandbox.emulator_base import Gate
from mopsgate.sandbox.hubspot.errors import BadInput, not_found
from mopsgate.sandbox.hubspot.state import PortalState, now_iso
from mopsgate.sandbox.hubspot.wire import int_param, json_body, paging

OBJECTS = {"contacts": "contacts", "contact": "contacts", "0-1": "contacts"}
OBJECTS |= {"companies": "companies", "company": "companies", "0-2": "companies"}
TYPE_IDS = {"contacts": "0-1", "companies": "0-2"}
UNLABELED = {"contacts": 279, "companies": 280}  # by the type associations are read from
PRIMARY = {"contacts": 1, "companies": 2}


class AssociationRoutes:
    def __init__(self, state: PortalState) -> None:
        self.state = state

    def _types(self, request: Request) -> tuple[str, str]:
        params = request.path_params
        a, b = OBJECTS.get(params["from_type"]), OBJECTS.get(params["to_type"])
        if a is None or b is None or a == b:
            raise BadInput(
                f"associations from {params['from_type']} to {params['to_type']} are not "
                "served: the sandbox associates contacts with companies"
            )
        return a, b

    def _record(self, kind: str, record_id: str) -> bool:
        found = self.state.contact(record_id) if kind == "contacts" else None
        return (
            found or (self.state.company(record_id) if kind == "companies" else None)
        ) is not None

    def _pair(self, request: Request) -> tuple[str, str, str] | Response:
        """(contact id, company id, the type read from), both records checked."""
        a, b = self._types(request)
        params = request.path_params
        for kind, key in ((a, params["from_id"]), (b, params.get("to_id"))):
            if key is not None and not self._record(kind, key):
                return not_found(f"Object {key!r} of type {kind}")
        from_id, to_id = params["from_id"], params.get("to_id", "")
        contact, company = (from_id, to_id) if a == "contacts" else (to_id, from_id)
        return contact, company, a

    async def create_default(self, request: Request) -> Response:
        pair = self._pair(request)
        if isinstance(pair, Response):
            return pair
        contact, company, a = pair
        self.state.link(contact, company, primary=False)
        at = now_iso()
        ends = request.path_params["from_id"], request.path_params["to_id"]
        b = "companies" if a == "contacts" else "contacts"
        return JSONResponse(
            {
                "status": "COMPLETE",
                "results": [
                    _spec(ends[0], ends[1], UNLABELED[a]),
                    _spec(ends[1], ends[0], UNLABELED[b]),
                ],
                "startedAt": at,
                "completedAt": at,
            }
        )

    async def create(self, request: Request) -> Response:
        pair = self._pair(request)
        if isinstance(pair, Response):
            return pair
        contact, company, a = pair
        body = await json_body(request)
        if not isinstance(body, list) or not all(isinstance(x, dict) for x in body):
            raise BadInput("the body must be an array of {associationCategory, associationTypeId}")
        type_ids = {x.get("associationTypeId") for x in body}
        allowed = {UNLABELED[a], PRIMARY[a]}
        if not type_ids or not type_ids <= allowed:
            raise BadInput(
                f"associationTypeId must be one of {sorted(allowed)} from {a}, got "
                f"{sorted(map(str, type_ids))}"
            )
        primary = PRIMARY[a] in type_ids
        self.state.link(contact, company, primary=primary)
        params = request.path_params
        b = "companies" if a == "contacts" else "contacts"
        return JSONResponse(
            {
                "fromObjectTypeId": TYPE_IDS[a],
                "fromObjectId": int(params["from_id"]),
                "toObjectTypeId": TYPE_IDS[b],
                "toObjectId": int(params["to_id"]),
                "labels": ["Primary"] if primary else [],
            },
            status_code=201,
        )

    async def list_associations(self, request: Request) -> Response:
        pair = self._pair(request)
        if isinstance(pair, Response):
            return pair
        _contact, _company, a = pair
        key = request.path_params["from_id"]
        found = self.state.companies_of(key) if a == "contacts" else self.state.contacts_of(key)
        limit = int_param(request.query_params.get("limit"), "limit", 500, 500)
        after = int_param(request.query_params.get("after"), "after", 0)
        rows = [(k, p) for k, p in found.items() if int(k) > after]
        more = len(rows) > limit
        rows = rows[:limit]
        results = [
            {
                "toObjectId": int(k),
                "associationTypes": [
                    {"category": "HUBSPOT_DEFINED", "typeId": UNLABELED[a], "label": None},
                    *(
                        [{"category": "HUBSPOT_DEFINED", "typeId": PRIMARY[a], "label": "Primary"}]
                        if primary
                        else []
                    ),
                ],
            }
            for k, primary in rows
        ]
        return JSONResponse(
            {"results": results, **paging(rows[-1][0] if more else None, request.url.path)}
        )

    async def archive(self, request: Request) -> Response:
        pair = self._pair(request)
        if isinstance(pair, Response):
            return pair
        contact, company, _a = pair
        self.state.unlink(contact, company)
        return Response(status_code=204)


def _spec(from_id: str, to_id: str, type_id: int) -> dict[str, Any]:
    return {
        "from": {"id": from_id},
        "to": {"id": to_id},
        "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id},
    }


def routes(gate: Gate, state: PortalState, p: Paths) -> list[Route]:
    r = AssociationRoutes(state)
    base = p.associations("{from_type}") + "/{from_id}/associations"
    return [
        gate.route(f"{base}/default/{{to_type}}/{{to_id}}", r.create_default, ["PUT"], write=True),
        gate.route(f"{base}/{{to_type}}", r.list_associations),
        gate.route(f"{base}/{{to_type}}/{{to_id}}", r.create, ["PUT"], write=True),
        gate.route(f"{base}/{{to_type}}/{{to_id}}", r.archive, ["DELETE"], write=True),
    ]

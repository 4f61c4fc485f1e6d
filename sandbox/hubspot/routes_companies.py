"""Company routes of the HubSpot emulator for one path family: list, search, read, create,
update and archive (the records contacts are associated with; see ``routes_associations``),
and the company properties."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mopsgate.connectors.hubspot.paths import Paths
from mopsgate.connectors.schema import FieldSpec
from mopsgate.sandbox.emulator_base import Gate
from mopsgate.sandbox.hubspot import rules
from mopsgate.sandbox.hubspot.errors import (
    invalid_properties,
    not_found,
)
from mopsgate.sandbox.hubspot.routes_contacts import record_json, search_answer
from mopsgate.sandbox.hubspot.search import property_json, validate_props
from mopsgate.sandbox.hubspot.state import PortalState
from mopsgate.sandbox.hubspot.wire import int_param, json_body, paging, query_list

COMPANY_PROPERTIES: tuple[FieldSpec, ...] = (
    FieldSpec("hs_object_id", "Record ID", "string", read_only=True),
    FieldSpec("name", "Company name", "string"),
    FieldSpec("domain", "Company Domain Name", "string"),
    FieldSpec("industry", "Industry", "string"),
    FieldSpec("phone", "Phone Number", "phone"),
    FieldSpec("city", "City", "string"),
    FieldSpec("country", "Country/Region", "string"),
    FieldSpec("createdate", "Create Date", "datetime", read_only=True),
    FieldSpec("hs_lastmodifieddate", "Last Modified Date", "datetime", read_only=True),
)
SPECS = {s.name: s for s in COMPANY_PROPERTIES}
DEFAULT_PROPS = ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name")


class CompanyRoutes:
    def __init__(self, state: PortalState, p: Paths) -> None:
        self.state = state
        self.p = p

    def _json(self, company: Any, names: list[str] | None) -> dict[str, Any]:
        return record_json(company, names, DEFAULT_PROPS)

    async def list_companies(self, request: Request) -> Response:
        limit = int_param(request.query_params.get("limit"), "limit", 10, 100)
        after = int_param(request.query_params.get("after"), "after", 0)
        names = query_list(request, "properties") or None
        page = [c for c in self.state.companies() if int(c.id) > after][: limit + 1]
        more = len(page) > limit
        page = page[:limit]
        next_after = page[-1].id if more else None
        body = {
            "results": [self._json(c, names) for c in page],
            **paging(next_after, self.p.objects("companies")),
        }
        return JSONResponse(body)

    async def get_company(self, request: Request) -> Response:
        company = self.state.company(request.path_params["company_id"])
        if company is None:
            return not_found(f"Object {request.path_params['company_id']!r}")
        return JSONResponse(self._json(company, query_list(request, "properties") or None))

    async def create(self, request: Request) -> Response:
        body = await json_body(request) or {}
        props = body.get("properties") if isinstance(body, dict) else None
        problems = validate_props(SPECS, props)
        if problems:
            return invalid_properties(problems)
        company = rules.create_company(self.state, dict(props or {}))
        return JSONResponse(self._json(company, [*company.props]), status_code=201)

    async def update(self, request: Request) -> Response:
        key = request.path_params["company_id"]
        body = await json_body(request) or {}
        props = body.get("properties") if isinstance(body, dict) else None
        problems = validate_props(SPECS, props)
        if problems:
            return invalid_properties(problems)
        if self.state.company(key) is None:
            return not_found(f"Object {key!r}")
        company = rules.update_company(self.state, key, dict(props or {}))
        return JSONResponse(self._json(company, [*(props or {}), "hs_lastmodifieddate"]))

    async def archive(self, request: Request) -> Response:
        key = request.path_params["company_id"]
        if self.state.company(key) is None:
            return not_found(f"Object {key!r}")
        rules.archive_company(self.state, key)
        return Response(status_code=204)

    async def search(self, request: Request) -> Response:
        return await search_answer(
            request, self.state.companies(), ("name", "domain"), DEFAULT_PROPS
        )

    async def properties(self, request: Request) -> Response:
        return JSONResponse({"results": [property_json(s) for s in COMPANY_PROPERTIES]})

    async def property(self, request: Request) -> Response:
        spec = SPECS.get(request.path_params["name"])
        if spec is None:
            return not_found(f"Property {request.path_params['name']!r}")
        return JSONResponse(property_json(spec))


def routes(gate: Gate, state: PortalState, p: Paths) -> list[Route]:
    r = CompanyRoutes(state, p)
    c = p.objects("companies")
    one = c + "/{company_id}"
    return [
        gate.route(f"{c}/search", r.search, ["POST"]),
        gate.route(c, r.list_companies),
        gate.route(c, r.create, ["POST"], write=True),
        gate.route(one, r.get_company),
        gate.route(one, r.update, ["PATCH"], write=True),
        gate.route(one, r.archive, ["DELETE"], write=True),
        gate.route(p.properties("companies"), r.properties),
        gate.route(p.properties("companies") + "/{name}", r.property),
    ]

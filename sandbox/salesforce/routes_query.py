"""SOQL over REST: ``/query`` (and ``/queryAll``) and its query locators
(``/query/<locator>-<row>``).

A query is parsed, bound to the object catalogue and evaluated over the org state; a result
longer than the batch size keeps a locator so the rest can be paged, as the real API does (the
oldest locators are dropped past ``MAX_LOCATORS``).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mopsgate.sandbox.emulator_base import Gate
from mopsgate.sandbox.salesforce.errors import sf_error
from mopsgate.sandbox.salesforce.soql import FieldItem, Query, SoqlError, parse
from mopsgate.sandbox.salesforce.soql_eval import bind, execute
from mopsgate.sandbox.salesforce.state import OrgState, Record
from mopsgate.sandbox.salesforce.wire import project

LOCATOR_RE = re.compile(r"^(01g[0-9A-Za-z]{12,15})-([0-9]{1,9})$")
BATCH_RE = re.compile(r"batchSize=([0-9]{1,5})")
MAX_LOCATORS = 200


@dataclass
class Locator:
    query: Query
    rows: list[Record]
    batch: int


@dataclass
class Cursors:
    """Open query locators, the page size the org allows, and every query parsed (for tests)."""

    page_size: int = 2000
    locators: OrderedDict[str, Locator] = field(default_factory=OrderedDict)
    parsed: list[Query] = field(default_factory=list)
    _seq: int = 0

    def open(self, query: Query, rows: list[Record], batch: int) -> str:
        self._seq += 1
        name = f"01g5e{self._seq:013d}"
        self.locators[name] = Locator(query, rows, batch)
        while len(self.locators) > MAX_LOCATORS:
            self.locators.popitem(last=False)
        return name


class QueryRoutes:
    def __init__(self, state: OrgState, cursors: Cursors) -> None:
        self.state = state
        self.cursors = cursors

    def _batch_size(self, request: Request) -> int:
        m = BATCH_RE.search(request.headers.get("sforce-query-options", ""))
        asked = min(2000, max(200, int(m.group(1)))) if m else 2000
        return max(1, min(asked, self.cursors.page_size))

    async def query(self, request: Request) -> Response:
        soql = request.query_params.get("q")
        if not soql:
            return sf_error(400, "MALFORMED_QUERY", "A query string (q) is required")
        try:
            parsed = bind(parse(soql))
            self.cursors.parsed.append(parsed)
            outcome = execute(parsed, self.state)
        except SoqlError as exc:
            return sf_error(400, exc.code, exc.message)
        if parsed.count_only:
            return JSONResponse({"totalSize": outcome.total, "done": True, "records": []})
        if outcome.aggregate:
            body = {"totalSize": outcome.total, "done": True, "records": outcome.records}
            return JSONResponse(body)
        version = request.path_params["version"]
        return self._page(version, parsed, outcome.records, 0, self._batch_size(request), None)

    async def query_more(self, request: Request) -> Response:
        m = LOCATOR_RE.match(request.path_params["locator"])
        cursor = self.cursors.locators.get(m.group(1)) if m else None
        if m is None or cursor is None or int(m.group(2)) > len(cursor.rows):
            return sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        version = request.path_params["version"]
        start = int(m.group(2))
        return self._page(version, cursor.query, cursor.rows, start, cursor.batch, m.group(1))

    def _page(
        self,
        version: str,
        q: Query,
        rows: list[Record],
        start: int,
        batch: int,
        locator: str | None,
    ) -> Response:
        end = min(len(rows), start + batch)
        body: Record = {"totalSize": len(rows), "done": end >= len(rows)}
        if end < len(rows):
            locator = locator or self.cursors.open(q, rows, batch)
            body["nextRecordsUrl"] = f"/services/data/{version}/query/{locator}-{end}"
        paths = [i.path for i in q.items if isinstance(i, FieldItem)]
        body["records"] = [project(self.state, version, q.obj, r, paths) for r in rows[start:end]]
        return JSONResponse(body)


def routes(gate: Gate, state: OrgState, cursors: Cursors) -> list[Route]:
    r = QueryRoutes(state, cursors)
    data = "/services/data/{version}"
    # With or without the trailing slash clients add (simple-salesforce always does); queryAll
    # is query here: deleted records are not kept.
    return [
        route
        for name in ("query", "queryAll")
        for route in (
            gate.route(f"{data}/{name}", r.query),
            gate.route(f"{data}/{name}/", r.query),
            gate.route(f"{data}/{name}/{{locator}}", r.query_more),
        )
    ]

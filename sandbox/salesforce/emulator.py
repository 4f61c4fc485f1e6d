"""Salesforce sandbox emulator: a Starlette app speaking the REST + SOQL shapes of a real org.

Every request passes one guard that logs it, tracks concurrency, checks the bearer session
(401 ``INVALID_SESSION_ID``), honours the injected faults, charges the rolling daily API
allocation (403 ``REQUEST_LIMIT_EXCEEDED``) and stamps ``Sforce-Limit-Info``. Token and version
calls do not count against the allocation, as in Salesforce.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mopsgate.sandbox.emulator_base import EmulatorCore, RateWindow
from mopsgate.sandbox.salesforce import ids
from mopsgate.sandbox.salesforce import routes_reads as routes
from mopsgate.sandbox.salesforce.routes_writes import composite, sf_error
from mopsgate.sandbox.salesforce.soql import Query
from mopsgate.sandbox.salesforce.state import Record, SalesforceState
from mopsgate.sandbox.seed import SeedData, seed_data

Handler = Callable[["SalesforceEmulator", Request], Awaitable[Response]]
MAX_LOCATORS = 200


class DailyAllocation(RateWindow):
    """The org's rolling 24-hour API request allocation."""

    def used(self) -> int:
        now = self._clock()
        return sum(1 for s in self._stamps if now - s < self.per_seconds)


@dataclass
class Locator:
    query: Query
    rows: list[Record]
    batch: int


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SalesforceEmulator:
    def __init__(
        self,
        seed: SeedData | None = None,
        *,
        page_size: int = 2000,
        daily_limit: int = 15_000,
        allocation_window: float = 86_400.0,
        max_concurrent: int = 25,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utcnow,
        instance_url: str | None = None,
        credentials: tuple[str, str] = (ids.SANDBOX_CLIENT_ID, ids.SANDBOX_CLIENT_SECRET),
    ) -> None:
        self.seed = seed if seed is not None else seed_data()
        self.core = EmulatorCore(ids.VENDOR, daily_limit, allocation_window, max_concurrent)
        self.core.window = DailyAllocation(daily_limit, allocation_window, clock)
        self.state = SalesforceState(self.seed, now)
        self.page_size = page_size
        self.instance_url = instance_url
        self.credentials = credentials
        self.versions = tuple(f"{v}.0" for v in range(58, 67))
        self.locators: OrderedDict[str, Locator] = OrderedDict()
        self.parsed_queries: list[Query] = []
        # Salesforce campaigns do not send: nothing is ever triggered or scheduled here.
        self.triggered: list[dict[str, Any]] = []
        self.scheduled: list[dict[str, Any]] = []
        self._locator_seq = 0
        self.app = Starlette(routes=self._routes())

    def _routes(self) -> list[Route]:
        data = "/services/data/{version}"
        g = self._guarded
        return [
            Route("/services/oauth2/token", g(routes.token, api=False), methods=["POST"]),
            Route("/services/data/", g(routes.versions, counted=False), methods=["GET"]),
            Route(f"{data}/limits", g(routes.limits), methods=["GET"]),
            Route(f"{data}/query", g(routes.query), methods=["GET"]),
            Route(f"{data}/query/{{locator}}", g(routes.query_more), methods=["GET"]),
            Route(f"{data}/sobjects/{{obj}}/describe", g(routes.describe), methods=["GET"]),
            Route(f"{data}/sobjects/{{obj}}/{{id}}", g(routes.sobject), methods=["GET"]),
            Route(f"{data}/composite/sobjects", g(composite), methods=["POST", "PATCH", "DELETE"]),
        ]

    def _guarded(
        self, handler: Handler, *, api: bool = True, counted: bool = True
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            self.core.enter()
            status, size = 500, 0
            try:
                size = len(await request.body())
                await self.core.delay()
                response = await self._dispatch(request, handler, api, counted)
                status = response.status_code
                return response
            finally:
                self.core.leave()
                self.core.log(request.method, request.url.path, request.url.query, status, size)

        return endpoint

    async def _dispatch(
        self, request: Request, handler: Handler, api: bool, counted: bool
    ) -> Response:
        if not api:
            return await handler(self, request)
        version = request.path_params.get("version")
        if version is not None and version.removeprefix("v") not in self.versions:
            return self._stamp(sf_error(404, "NOT_FOUND", "The requested resource does not exist"))
        early = self._refusal(request, counted)
        if early is not None:
            return self._stamp(early)
        response = await handler(self, request)
        if request.method != "GET" and response.status_code < 300:
            self.core.successful_writes += 1
        return self._stamp(response)

    def _refusal(self, request: Request, counted: bool) -> Response | None:
        faults = self.core.faults
        if self.core.token_state(request.headers.get("authorization")) != "ok":
            return sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if faults.take_rate_limit():
            return sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if faults.take_server_error():
            return sf_error(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable")
        if counted and not self.core.window.hit():
            return sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if request.method != "GET" and self.core.write_should_fail():
            return sf_error(
                500,
                "UNKNOWN_EXCEPTION",
                "An unexpected error occurred. Please "
                "include this ErrorId if you contact support: 0-0 (-1)",
            )
        return None

    def _stamp(self, response: Response) -> Response:
        response.headers["Sforce-Limit-Info"] = (
            f"api-usage={self.api_usage()}/{self.core.window.max_calls}"
        )
        return response

    def api_usage(self) -> int:
        window = self.core.window
        return window.used() if isinstance(window, DailyAllocation) else 0

    def open_locator(self, query: Query, rows: list[Record], batch: int) -> str:
        self._locator_seq += 1
        name = f"01g5e{self._locator_seq:013d}"
        self.locators[name] = Locator(query, rows, batch)
        while len(self.locators) > MAX_LOCATORS:
            self.locators.popitem(last=False)
        return name

    # test helpers ---------------------------------------------------------------------------
    def person_fields(self, native_id: str) -> dict[str, Any]:
        rec = self.state.person(native_id)
        if rec is None:
            raise KeyError(native_id)
        return dict(rec)

    def set_person_field(self, native_id: str, field: str, value: Any) -> None:
        rec = self.state.person(native_id)
        if rec is None:
            raise KeyError(native_id)
        rec[field] = value

    def exists(self, native_id: str) -> bool:
        obj = ids.object_of(native_id)
        return obj in self.state.objects and native_id in self.state.objects[obj]

    def list_member_ids(self, campaign_id: str) -> set[str]:
        """Person ids (Lead/Contact) that are CampaignMembers of the campaign or list."""
        members = self.state.by_index("CampaignMember", "CampaignId", campaign_id) or []
        return {m["LeadId"] or m["ContactId"] for m in members}

    def campaign_member_status(self, campaign_id: str, person_id: str) -> str | None:
        member = self.state.member(campaign_id, person_id)
        return None if member is None else str(member["Status"])

    def campaign_ladder(self, campaign_id: str) -> list[tuple[str, int, bool]]:
        return [
            (r["Label"], r["SortOrder"], r["HasResponded"]) for r in self.state.ladder(campaign_id)
        ]

    def tasks_for(self, person_id: str) -> list[dict[str, Any]]:
        return [dict(t) for t in self.state.by_index("Task", "WhoId", person_id) or []]

    def records(self, obj: str) -> dict[str, dict[str, Any]]:
        return {k: dict(v) for k, v in self.state.objects[obj].items()}

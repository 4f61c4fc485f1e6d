"""Salesforce sandbox emulator: a Starlette app speaking the REST + SOQL shapes of a real org.

Every route passes the shared gate (``emulator_base.Gate``) with Salesforce's checks
(``gate.py``): it logs the request, tracks concurrency, checks the bearer session, honours the
injected faults, charges the rolling daily API allocation and stamps ``Sforce-Limit-Info``.
The org's data sits behind ``OrgState``; the helpers below are what tests read and poke.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from mopsgate.sandbox.emulator_base import (
    EmulatorCore,
    Gate,
    LoggedRequest,
    RateWindow,
    Runner,
    allowed_methods,
    on_loop,
)
from mopsgate.sandbox.salesforce import ids, routes_org, routes_query, routes_sobjects, rules
from mopsgate.sandbox.salesforce.errors import not_found, sf_error
from mopsgate.sandbox.salesforce.gate import SalesforceChecks
from mopsgate.sandbox.salesforce.routes_org import Org
from mopsgate.sandbox.salesforce.routes_query import Cursors
from mopsgate.sandbox.salesforce.seed import load
from mopsgate.sandbox.salesforce.soql import Query
from mopsgate.sandbox.salesforce.state import MemoryOrg, OrgState
from mopsgate.sandbox.seed import SeedData, seed_data
from mopsgate.sandbox.seeded import seeded_state

DAILY_LIMIT = 15_000
VERSIONS = tuple(f"{v}.0" for v in range(58, 67))


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def _not_found(request: Request) -> Response:
    allowed = allowed_methods(request)
    if allowed:
        message = f"HTTP Method '{request.method}' not allowed. Allowed are {','.join(allowed)}"
        answer = sf_error(405, "METHOD_NOT_ALLOWED", message)
        answer.headers["Allow"] = ", ".join(allowed)
        return answer
    return not_found()


class SalesforceEmulator:
    def __init__(
        self,
        seed: SeedData | None = None,
        *,
        page_size: int = 2000,
        daily_limit: int = DAILY_LIMIT,
        allocation_window: float = 86_400.0,
        max_concurrent: int = 25,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utcnow,
        instance_url: str | None = None,
        credentials: tuple[str, str] = (ids.SANDBOX_CLIENT_ID, ids.SANDBOX_CLIENT_SECRET),
        state: OrgState | None = None,
        runner: Runner = on_loop,
    ) -> None:
        """``state``: the org to serve (default: a fresh in-memory org loaded from ``seed``)."""
        self.seed = seed
        window = RateWindow(daily_limit, allocation_window, clock)
        self.core = EmulatorCore(ids.VENDOR, window, max_concurrent=max_concurrent)
        if state is None:
            self.seed = seed if seed is not None else seed_data()
            fresh = seeded_state(ids.VENDOR, self.seed, lambda: MemoryOrg(_utcnow), load)
            fresh.tell_time_by(now)
            state = fresh
        self.state = state
        self.cursors = Cursors(page_size=page_size)
        org = Org(credentials, instance_url, VERSIONS)
        gate = Gate(self.core, SalesforceChecks(self.core, VERSIONS), runner)
        self.app = Starlette(
            routes=[
                *routes_org.routes(gate, org),
                *routes_query.routes(gate, self.state, self.cursors),
                *routes_sobjects.routes(gate, self.state, self.core.faults),
                gate.fallback(_not_found),
            ]
        )
        # Salesforce campaigns do not send: nothing is ever triggered or scheduled here.
        self.triggered: list[dict[str, Any]] = []
        self.scheduled: list[dict[str, Any]] = []

    @property
    def parsed_queries(self) -> list[Query]:
        return self.cursors.parsed

    def api_usage(self) -> int:
        return self.core.window.used()

    # test helpers ---------------------------------------------------------------------------
    def person_fields(self, native_id: str) -> dict[str, Any]:
        rec = rules.person(self.state, native_id)
        if rec is None:
            raise KeyError(native_id)
        return dict(rec)

    def set_person_field(self, native_id: str, field: str, value: Any) -> None:
        """Poke a field directly (no validation, no Task): a change made by someone else."""
        obj = ids.object_of(native_id)
        if obj not in ids.PERSON_OBJECTS or self.state.record(obj, native_id) is None:
            raise KeyError(native_id)
        self.state.update(obj, native_id, {field: value})

    def exists(self, native_id: str) -> bool:
        obj = ids.object_of(native_id)
        return obj is not None and self.state.record(obj, native_id) is not None

    def list_member_ids(self, campaign_id: str) -> set[str]:
        """Person ids (Lead/Contact) that are CampaignMembers of the campaign or list."""
        members = self.state.by_index("CampaignMember", "CampaignId", campaign_id) or []
        return {m["LeadId"] or m["ContactId"] for m in members}

    def campaign_member_status(self, campaign_id: str, person_id: str) -> str | None:
        row = rules.member(self.state, campaign_id, person_id)
        return None if row is None else str(row["Status"])

    def campaign_ladder(self, campaign_id: str) -> list[tuple[str, int, bool]]:
        return [
            (r["Label"], r["SortOrder"], r["HasResponded"])
            for r in rules.ladder(self.state, campaign_id)
        ]

    def tasks_for(self, person_id: str) -> list[dict[str, Any]]:
        return [dict(t) for t in self.state.by_index("Task", "WhoId", person_id) or []]

    def records(self, obj: str) -> dict[str, dict[str, Any]]:
        return {r["Id"]: dict(r) for r in self.state.rows(obj)}

    def requests_to(self, path_suffix: str, method: str | None = None) -> list[LoggedRequest]:
        return self.core.requests_to(path_suffix, method)

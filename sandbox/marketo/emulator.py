"""The Marketo Engage sandbox: a Starlette app speaking Marketo's REST shapes over the seed.

Tests drive it through ``httpx.ASGITransport(app=emulator.app)`` and read or poke its state
through the helpers below instead of patching the client, so the client meets the same
envelopes, limits and faults it will meet in production.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mopsgate.sandbox.emulator_base import EmulatorCore, RateWindow
from mopsgate.sandbox.marketo import routes_assets, routes_leads, routes_writes
from mopsgate.sandbox.marketo.app import Gate, Router
from mopsgate.sandbox.marketo.seed import build_world
from mopsgate.sandbox.marketo.state import MarketoState
from mopsgate.sandbox.seed import SeedData, seed_data


class MarketoEmulator:
    """``MarketoEmulator(seed)``; ``clock`` feeds the 100-calls/20-s window, ``now`` the
    timestamps written into records and activities."""

    def __init__(
        self,
        seed: SeedData | None = None,
        *,
        clock: Callable[[], float] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.seed = seed if seed is not None else seed_data()
        self.core = EmulatorCore("marketo", 100, 20.0, max_concurrent=10)
        if clock is not None:
            self.core.window = RateWindow(100, 20.0, clock)
        self.state = MarketoState(build_world(self.seed), now)
        router = Router()
        for module in (routes_leads, routes_writes, routes_assets):
            module.register(router)
        self.gate = Gate(self.core, self.state, router)
        self.app = Starlette(
            routes=[Route("/{path:path}", self._endpoint, methods=["GET", "POST", "DELETE"])]
        )
        self.app.state.gate = self.gate

    async def _endpoint(self, request: Request) -> Response:
        return await self.gate(request)

    # limits -------------------------------------------------------------------------------
    def set_rate_limit(
        self, max_calls: int, per_seconds: float = 20.0, clock: Callable[[], float] | None = None
    ) -> None:
        """Lower the window for a test (Marketo's own is 100 calls per 20 s)."""
        self.core.window = RateWindow(max_calls, per_seconds, *(() if clock is None else (clock,)))

    def set_daily_quota(self, quota: int) -> None:
        self.gate.daily_quota = quota

    # state helpers for tests --------------------------------------------------------------
    def person_fields(self, native_id: int) -> dict[str, Any]:
        return dict(self.state.w.leads[int(native_id)])

    def has_person(self, native_id: int) -> bool:
        return int(native_id) in self.state.w.leads

    def set_person_field(self, native_id: int, field: str, value: Any) -> None:
        self.state.w.leads[int(native_id)][field] = value

    def list_member_ids(self, list_id: int) -> list[int]:
        return sorted(self.state.w.static_lists[int(list_id)].members)

    def campaign_member_status(self, program_id: int, lead_id: int) -> str | None:
        member = self.state.w.programs[int(program_id)].members.get(int(lead_id))
        return member.status if member else None

    def program_member_ids(self, program_id: int) -> list[int]:
        return sorted(self.state.w.programs[int(program_id)].members)

    @property
    def triggered(self) -> list[dict[str, Any]]:
        return self.state.triggered

    @property
    def scheduled(self) -> list[dict[str, Any]]:
        return self.state.scheduled

    @property
    def deleted(self) -> list[dict[str, Any]]:
        return self.state.deleted

    @property
    def activities(self) -> list[dict[str, Any]]:
        return self.state.w.activities

    def requests_to(self, path_suffix: str, method: str | None = None) -> list[Any]:
        """Logged requests whose path ends with ``path_suffix`` (and method, if given)."""
        return [
            r
            for r in self.core.requests
            if r.path.endswith(path_suffix) and (method is None or r.method == method)
        ]

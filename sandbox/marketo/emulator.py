"""The Marketo Engage sandbox: a Starlette app speaking Marketo's REST shapes over the seed.

Every route passes the shared gate (``emulator_base.Gate``) with Marketo's checks
(``gate.py``) and answers in Marketo's envelope (``wire.py``). The instance's data sits behind
``InstanceState``; the helpers below are what tests read and poke instead of patching the
client, so the client meets the same envelopes, limits and faults it will meet in production.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mopsgate.sandbox.emulator_base import (
    DailyQuota,
    EmulatorCore,
    Gate,
    Handler,
    LoggedRequest,
    RateWindow,
    Runner,
    on_loop,
)
from mopsgate.sandbox.marketo import (
    ids,
    routes_account,
    routes_activities,
    routes_assets,
    routes_campaigns,
    routes_leads,
    routes_lists,
    routes_programs,
)
from mopsgate.sandbox.marketo.gate import MarketoChecks
from mopsgate.sandbox.marketo.override import MethodOverride
from mopsgate.sandbox.marketo.rules import InstanceRules
from mopsgate.sandbox.marketo.seed import load
from mopsgate.sandbox.marketo.state import InstanceState, MemoryInstance
from mopsgate.sandbox.marketo.wire import Envelope
from mopsgate.sandbox.seed import SeedData, seed_data
from mopsgate.sandbox.seeded import seeded_state

RATE_CALLS, RATE_SECONDS, MAX_CONCURRENT = 100, 20.0, 10
DAILY_QUOTA = 50_000


class MarketoEmulator:
    """``MarketoEmulator(seed)``; ``clock`` feeds the 100-calls/20-s window, ``now`` the
    timestamps written into records and activities, ``state`` the instance to serve (default:
    a fresh in-memory instance loaded from ``seed``)."""

    def __init__(
        self,
        seed: SeedData | None = None,
        *,
        clock: Callable[[], float] | None = None,
        now: Callable[[], datetime] | None = None,
        state: InstanceState | None = None,
        runner: Runner = on_loop,
    ) -> None:
        self.seed = seed
        if state is None:
            self.seed = seed if seed is not None else seed_data()
            state = seeded_state(ids.VENDOR, self.seed, MemoryInstance, load)
        self.state = state
        window = RateWindow(RATE_CALLS, RATE_SECONDS, *(() if clock is None else (clock,)))
        self.core = EmulatorCore(ids.VENDOR, window, max_concurrent=MAX_CONCURRENT)
        self.quota = DailyQuota(DAILY_QUOTA)
        self.rules = InstanceRules(self.state, now)
        envelope = Envelope(self.state)
        gate = Gate(self.core, MarketoChecks(self.core, self.quota, envelope), runner)
        faults = self.core.faults
        routes: list[Route] = [
            *routes_account.routes(gate, envelope, self.rules, self.quota),
            *routes_leads.routes(gate, envelope, self.rules, faults),
            *routes_lists.routes(gate, envelope, self.rules, faults),
            *routes_programs.routes(gate, envelope, self.rules, faults),
            *routes_campaigns.routes(gate, envelope, self.rules),
            *routes_activities.routes(gate, envelope),
            *routes_assets.routes(gate, envelope),
            gate.fallback(_not_found(envelope)),
        ]
        self.app = Starlette(routes=routes, middleware=[Middleware(MethodOverride)])

    # limits -------------------------------------------------------------------------------
    def set_rate_limit(
        self, max_calls: int, per_seconds: float = 20.0, clock: Callable[[], float] | None = None
    ) -> None:
        """Lower the window for a test (Marketo's own is 100 calls per 20 s)."""
        self.core.window = RateWindow(max_calls, per_seconds, *(() if clock is None else (clock,)))

    def set_daily_quota(self, quota: int) -> None:
        self.quota.limit = quota

    # state helpers for tests --------------------------------------------------------------
    def person_fields(self, native_id: int) -> dict[str, Any]:
        return dict(self._lead(native_id))

    def has_person(self, native_id: int) -> bool:
        return self.state.lead(int(native_id)) is not None

    def set_person_field(self, native_id: int, field: str, value: Any) -> None:
        """Poke a field directly (no validation, no activity): a change made by someone else."""
        self._lead(native_id)
        self.state.save_lead(int(native_id), {field: value})

    def _lead(self, native_id: int) -> dict[str, Any]:
        lead = self.state.lead(int(native_id))
        if lead is None:
            raise KeyError(native_id)
        return lead

    def list_member_ids(self, list_id: int) -> list[int]:
        lst = self.state.static_list(int(list_id))
        if lst is None:
            raise KeyError(list_id)
        return sorted(lst.members)

    def campaign_member_status(self, program_id: int, lead_id: int) -> str | None:
        member = self.state.programs_of(int(lead_id)).get(int(program_id))
        return member.status if member else None

    def program_member_ids(self, program_id: int) -> list[int]:
        prog = self.state.program(int(program_id))
        if prog is None:
            raise KeyError(program_id)
        return sorted(prog.members)

    def set_campaign_audience(self, campaign_id: int, list_names: str | None) -> None:
        """Point a smart campaign's "Member of List" filter at other lists (comma-separated
        names, as Marketo shows several)."""
        camp = self.state.smart_campaign(int(campaign_id))
        if camp is None:
            raise KeyError(campaign_id)
        self.state.save_smart_campaign(replace(camp, audience_list_name=list_names))

    @property
    def triggered(self) -> list[dict[str, Any]]:
        return self.state.runs("triggered")

    @property
    def scheduled(self) -> list[dict[str, Any]]:
        return self.state.runs("scheduled")

    @property
    def deleted(self) -> list[dict[str, Any]]:
        return self.state.runs("deleted")

    @property
    def merged(self) -> list[dict[str, Any]]:
        """Every merge: {"winner": id, "loser": id}, in order."""
        return self.state.runs("merged")

    @property
    def activities(self) -> list[dict[str, Any]]:
        return self.state.activities(0, self.state.activity_count())

    def requests_to(self, path_suffix: str, method: str | None = None) -> list[LoggedRequest]:
        return self.core.requests_to(path_suffix, method)


def _not_found(envelope: Envelope) -> Handler:
    async def endpoint(request: Request) -> Response:
        return envelope.failure("610", "Requested resource not found")

    return endpoint

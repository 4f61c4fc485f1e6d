"""HubSpot sandbox emulator: one portal served under both the ``/crm/v3`` and the ``2026-03``
path families, with HubSpot's auth answers, rate-limit headers and 429s, error envelopes and
207 partial batches.

Every route passes the shared gate (``emulator_base.Gate``) with HubSpot's checks
(``gate.py``), so clients meet the failure modes exactly where the real API produces them. The
portal's data sits behind ``PortalState``; the helpers below are what tests read and poke.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mopsgate.connectors.hubspot.paths import FAMILIES, Paths
from mopsgate.sandbox.emulator_base import (
    DailyQuota,
    EmulatorCore,
    Gate,
    LoggedRequest,
    RateWindow,
    Runner,
    allowed_methods,
    on_loop,
)
from mopsgate.sandbox.hubspot import (
    ids,
    routes_account,
    routes_associations,
    routes_campaigns,
    routes_companies,
    routes_consent,
    routes_contacts,
    routes_lists,
)
from mopsgate.sandbox.hubspot.errors import hs_error
from mopsgate.sandbox.hubspot.gate import HubSpotChecks
from mopsgate.sandbox.hubspot.seed import load
from mopsgate.sandbox.hubspot.state import MemoryPortal, PortalState, to_prop
from mopsgate.sandbox.seed import SeedData, seed_data
from mopsgate.sandbox.seeded import seeded_state

TEN_SECOND_MAX = 100  # Free/Starter tier burst limit per app
SEARCH_PER_SECOND = 5
DAILY_LIMIT = 250_000


async def _not_found(request: Request) -> Response:
    allowed = allowed_methods(request)
    if allowed:
        message = f"{request.method} is not allowed on {request.url.path}; use {', '.join(allowed)}"
        return hs_error(405, message, "METHOD_NOT_ALLOWED", headers={"Allow": ", ".join(allowed)})
    return hs_error(404, f"No route for {request.method} {request.url.path}", "NOT_FOUND")


class HubSpotEmulator:
    def __init__(
        self,
        seed: SeedData | None = None,
        *,
        clock: Callable[[], float] | None = None,
        ten_second_limit: int = TEN_SECOND_MAX,
        state: PortalState | None = None,
        runner: Runner = on_loop,
    ) -> None:
        """``ten_second_limit``: the portal tier's burst limit (100 Free/Starter, 190
        Professional/Enterprise, 250 with the limit-increase pack). ``state``: the portal to
        serve (default: a fresh in-memory portal loaded from ``seed``)."""
        self.seed = seed
        if state is None:
            self.seed = seed if seed is not None else seed_data()
            state = seeded_state(ids.VENDOR, self.seed, MemoryPortal, load)
        self.state = state
        clk = clock or time.monotonic
        self.window = RateWindow(ten_second_limit, 10.0, clk)
        self.core = EmulatorCore(ids.VENDOR, self.window)
        self.core.token_ttl = 1800.0  # OAuth access tokens live 30 minutes
        self.search_window = RateWindow(SEARCH_PER_SECOND, 1.0, clk)
        self.static_tokens: set[str] = {ids.SANDBOX_TOKEN}
        self.quota = DailyQuota(DAILY_LIMIT)
        checks = HubSpotChecks(self.core, self.search_window, self.quota, self.static_tokens)
        gate = Gate(self.core, checks, runner)
        faults = self.core.faults
        routes: list[Route] = []
        for family in FAMILIES:
            p = Paths(family)
            routes += routes_contacts.routes(gate, self.state, faults, p)
            routes += routes_companies.routes(gate, self.state, p)
            routes += routes_associations.routes(gate, self.state, p)
            routes += routes_lists.routes(gate, self.state, faults, p)
            routes += routes_campaigns.routes(gate, self.state, p)
        routes += routes_campaigns.shared_routes(gate, self.state)
        routes += routes_consent.routes(gate, self.state, faults)
        routes += routes_account.routes(gate, self.quota)
        self.app = Starlette(routes=[*routes, gate.fallback(_not_found)])

    @property
    def daily_limit(self) -> int:
        return self.quota.limit

    @daily_limit.setter
    def daily_limit(self, value: int) -> None:
        self.quota.limit = value

    @property
    def daily_used(self) -> int:
        return self.quota.used

    # test helpers -------------------------------------------------------------------------
    def person_fields(self, native_id: str) -> dict[str, str | None]:
        """Current HubSpot properties (strings, None when unset) of a live contact."""
        contact = self.state.contact(native_id)
        if contact is None:
            raise KeyError(native_id)
        return dict(contact.props)

    def set_person_field(self, native_id: str, field: str, value: Any) -> None:
        """Poke a property directly (no validation, no activity): simulates a change made
        by someone else between plan and apply."""
        contact = self.state.contact(native_id)
        if contact is None:
            raise KeyError(native_id)
        self.state.save_contact(native_id, {field: to_prop(value)}, contact.updated_at)

    def is_archived(self, native_id: str) -> bool:
        return self.state.is_archived(native_id)

    def list_member_ids(self, list_id: str) -> set[str]:
        lst = self.state.list_by_id(list_id)
        if lst is None:
            raise KeyError(list_id)
        return set(lst.members)

    def campaign_member_status(self, campaign_guid: str, native_id: str) -> str | None:
        """The report contact type the contact is attributed under, or None."""
        campaign = self.state.campaign(campaign_guid)
        if campaign is None:
            raise KeyError(campaign_guid)
        return campaign.members.get(native_id)

    @property
    def write_log(self) -> list[dict[str, Any]]:
        return self.state.write_log()

    @property
    def scheduled(self) -> list[dict[str, Any]]:
        return []  # HubSpot has no schedule or trigger API: nothing is ever scheduled

    @property
    def triggered(self) -> list[dict[str, Any]]:
        return []

    def requests_to(self, path_suffix: str, method: str | None = None) -> list[LoggedRequest]:
        return self.core.requests_to(path_suffix, method)

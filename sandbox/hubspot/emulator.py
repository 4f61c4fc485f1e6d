"""HubSpot sandbox emulator: one in-memory portal served under both the ``/crm/v3`` and the
``2026-03`` path families, with HubSpot's auth answers, rate-limit headers and 429s, error
envelopes and 207 partial batches.

The gate in front of the routes does what HubSpot does before any handler runs (auth, the
10-second and search windows, the daily budget) and applies the test faults, so clients meet
the failure modes exactly where the real API produces them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mopsgate.connectors.hubspot.paths import FAMILIES, OAUTH_TOKEN, Paths
from mopsgate.sandbox.emulator_base import EmulatorCore, LoggedRequest, RateWindow
from mopsgate.sandbox.hubspot import ids, routes_crm, routes_lists, routes_marketing
from mopsgate.sandbox.hubspot.http import hs_error
from mopsgate.sandbox.hubspot.state import PortalState, to_prop
from mopsgate.sandbox.seed import SeedData, seed_data

TEN_SECOND_MAX = 100  # Free/Starter tier burst limit per app
SEARCH_PER_SECOND = 5
DAILY_LIMIT = 250_000


class HubSpotWindow(RateWindow):
    """RateWindow that can also say how much is left and when the next slot frees up, which
    HubSpot reports in its ``X-HubSpot-RateLimit-*`` and ``Retry-After`` headers."""

    def _trim(self) -> float:
        now = self._clock()
        while self._stamps and now - self._stamps[0] >= self.per_seconds:
            self._stamps.popleft()
        return now

    def remaining(self) -> int:
        self._trim()
        return max(0, self.max_calls - len(self._stamps))

    def seconds_until_free(self) -> int:
        now = self._trim()
        if len(self._stamps) < self.max_calls:
            return 0
        return max(1, math.ceil(self.per_seconds - (now - self._stamps[0])))


class HubSpotEmulator:
    def __init__(
        self,
        seed: SeedData | None = None,
        *,
        clock: Callable[[], float] | None = None,
        ten_second_limit: int = TEN_SECOND_MAX,
    ) -> None:
        """``ten_second_limit``: the portal tier's burst limit (100 Free/Starter, 190
        Professional/Enterprise, 250 with the limit-increase pack)."""
        self.seed = seed if seed is not None else seed_data()
        self.state = PortalState(self.seed)
        self.core = EmulatorCore("hubspot", ten_second_limit, 10.0)
        self.core.token_ttl = 1800.0  # OAuth access tokens live 30 minutes
        clk = clock or time.monotonic
        self.window = HubSpotWindow(ten_second_limit, 10.0, clk)
        self.core.window = self.window
        self.search_window = HubSpotWindow(SEARCH_PER_SECOND, 1.0, clk)
        self.static_tokens: set[str] = {ids.SANDBOX_TOKEN}
        self.daily_limit = DAILY_LIMIT
        self.daily_used = 0
        routes = [
            r
            for f in FAMILIES
            for mod in (routes_crm, routes_lists, routes_marketing)
            for r in mod.routes(self, Paths(f))
        ]
        routes += routes_marketing.shared_routes(self)
        self.app: ASGIApp = _Gate(self, Starlette(routes=routes))

    # gate ---------------------------------------------------------------------------------
    def auth_verdict(self, header: str | None) -> Response | None:
        token = header[7:] if header and header.startswith("Bearer ") else None
        if token in self.static_tokens:
            if not self.core.faults.expire_tokens:
                return None
            self.core.faults.expire_tokens = False
            return hs_error(
                401,
                "The access token used to make this call has expired.",
                "EXPIRED_AUTHENTICATION",
            )
        verdict = self.core.token_state(header)
        if verdict == "ok":
            return None
        if verdict == "expired":
            return hs_error(
                401,
                "The OAuth token used to make this call expired 0 second(s) ago.",
                "EXPIRED_AUTHENTICATION",
            )
        return hs_error(
            401,
            "Authentication credentials not found. This API supports OAuth "
            "2.0 authentication and you can find more details at "
            "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            "INVALID_AUTHENTICATION",
        )

    def gate(self, method: str, path: str, header: str | None) -> Response | None:
        """HubSpot's pre-handler checks in its order; None lets the request through."""
        if path == OAUTH_TOKEN:
            return None
        refused = self.auth_verdict(header)
        if refused is not None:
            return refused
        faults = self.core.faults
        if faults.take_rate_limit():
            return self._too_many("TEN_SECONDLY_ROLLING", 1)
        if path.endswith("/search") and "/objects" in path:
            if not self.search_window.hit():
                return self._too_many("SECONDLY", self.search_window.seconds_until_free())
        elif not self.window.hit():
            return self._too_many("TEN_SECONDLY_ROLLING", self.window.seconds_until_free())
        self.daily_used += 1
        if self.daily_used > self.daily_limit:
            return hs_error(
                429, "You have reached your daily limit.", "RATE_LIMITS", policyName="DAILY"
            )
        if faults.take_server_error():
            return hs_error(
                500, "internal error (emulator fault server_error_next)", "INTERNAL_ERROR"
            )
        if _is_write(method, path) and self.core.write_should_fail():
            return hs_error(
                500, "internal error (emulator fault fail_after_writes)", "INTERNAL_ERROR"
            )
        return None

    def _too_many(self, policy: str, retry_after: int) -> Response:
        return hs_error(
            429,
            f"You have reached your {policy.lower()} limit.",
            "RATE_LIMITS",
            policyName=policy,
            errorType="RATE_LIMIT",
            headers={"Retry-After": str(max(1, retry_after))},
        )

    def rate_headers(self, header: str | None) -> list[tuple[bytes, bytes]]:
        out = {
            "X-HubSpot-RateLimit-Max": str(self.window.max_calls),
            "X-HubSpot-RateLimit-Remaining": str(self.window.remaining()),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.window.per_seconds * 1000)),
        }
        if header and header[7:] in self.static_tokens:  # daily headers: private apps only
            out["X-HubSpot-RateLimit-Daily"] = str(self.daily_limit)
            out["X-HubSpot-RateLimit-Daily-Remaining"] = str(
                max(0, self.daily_limit - self.daily_used)
            )
        return [(k.lower().encode(), v.encode()) for k, v in out.items()]

    # test helpers -------------------------------------------------------------------------
    def person_fields(self, native_id: str) -> dict[str, str | None]:
        """Current HubSpot properties (strings, None when unset) of a live contact."""
        return dict(self.state.contacts[native_id].props)

    def set_person_field(self, native_id: str, field: str, value: Any) -> None:
        """Poke a property directly (no validation, no activity): simulates a change made
        by someone else between plan and apply."""
        self.state.contacts[native_id].props[field] = to_prop(value)

    def is_archived(self, native_id: str) -> bool:
        return native_id in self.state.archived

    def list_member_ids(self, list_id: str) -> set[str]:
        return set(self.state.lists[list_id].members)

    def campaign_member_status(self, campaign_guid: str, native_id: str) -> str | None:
        """The report contact type the contact is attributed under, or None."""
        return self.state.campaigns[campaign_guid].members.get(native_id)

    @property
    def write_log(self) -> list[dict[str, Any]]:
        return self.state.write_log

    @property
    def scheduled(self) -> list[dict[str, Any]]:
        return self.state.scheduled

    @property
    def triggered(self) -> list[dict[str, Any]]:
        return self.state.triggered

    def requests_to(self, suffix: str, method: str | None = None) -> list[LoggedRequest]:
        return [
            r
            for r in self.core.requests
            if r.path.endswith(suffix) and (method is None or r.method == method)
        ]


def _is_write(method: str, path: str) -> bool:
    return LoggedRequest(method, path, "", 0, 0.0).is_write


class _Gate:
    """ASGI wrapper: concurrency accounting, faults, auth, limits, headers and the log."""

    def __init__(self, emu: HubSpotEmulator, inner: ASGIApp) -> None:
        self.emu = emu
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        emu, core = self.emu, self.emu.core
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        auth = headers.get("authorization")
        method, path = scope["method"], scope["path"]
        status = [500]

        async def send_wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                extra = emu.rate_headers(auth) if path != OAUTH_TOKEN else []
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        core.enter()
        try:
            await core.delay()
            refused = emu.gate(method, path, auth)
            target: ASGIApp = refused if refused is not None else self.inner
            await target(scope, receive, send_wrapped)
        finally:
            core.leave()
            core.log(
                method,
                path,
                scope.get("query_string", b"").decode(),
                status[0],
                int(headers.get("content-length", "0") or 0),
            )
            if _is_write(method, path) and 200 <= status[0] < 300:
                core.successful_writes += 1

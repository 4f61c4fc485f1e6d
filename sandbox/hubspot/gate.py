"""What HubSpot checks before a call runs, in its order, and the headers it stamps.

The bearer token (a private-app token, or an OAuth access token the emulator issued), injected
rate-limit faults, the 10-second burst window (CRM search has its own per-second window), the
daily allocation, then injected server errors and the write fault. Every answer but the token
endpoint's carries ``X-HubSpot-RateLimit-*`` headers (the daily ones for private apps only).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mopsgate.sandbox.emulator_base import (
    Access,
    DailyQuota,
    EmulatorCore,
    RateWindow,
    request_line,
)
from mopsgate.sandbox.hubspot.errors import hs_error


class HubSpotChecks:
    def __init__(
        self,
        core: EmulatorCore,
        search_window: RateWindow,
        quota: DailyQuota,
        static_tokens: set[str],
    ) -> None:
        self.core = core
        self.search_window = search_window
        self.quota = quota
        self.static_tokens = static_tokens

    def refuse(self, request: Request, access: Access, write: bool) -> Response | None:
        if access is Access.TOKEN:
            return None
        refused = self._auth(request.headers.get("authorization"))
        if refused is not None:
            return refused
        core, faults, path = self.core, self.core.faults, request.url.path
        if faults.take_rate_limit(request_line(request)):
            return _too_many("TEN_SECONDLY_ROLLING", faults.retry_after)
        if path.endswith("/search") and "/objects" in path:
            if not self.search_window.hit():
                return _too_many("SECONDLY", self.search_window.seconds_until_free())
        elif not core.window.hit():
            return _too_many("TEN_SECONDLY_ROLLING", core.window.seconds_until_free())
        if not self.quota.take():
            return hs_error(
                429, "You have reached your daily limit.", "RATE_LIMITS", policyName="DAILY"
            )
        if faults.take_server_error(request_line(request)):
            return hs_error(
                500, "internal error (emulator fault server_error_next)", "INTERNAL_ERROR"
            )
        if write and core.write_should_fail():
            return hs_error(
                500, "internal error (emulator fault fail_after_writes)", "INTERNAL_ERROR"
            )
        return None

    def _auth(self, header: str | None) -> Response | None:
        token = header[7:] if header and header.startswith("Bearer ") else None
        if token in self.static_tokens:
            if not self.core.faults.take_expired_token():
                return None
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

    def stamp(self, request: Request, response: Response) -> None:
        window = self.core.window
        out = {
            "X-HubSpot-RateLimit-Max": str(window.max_calls),
            "X-HubSpot-RateLimit-Remaining": str(window.remaining()),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(window.per_seconds * 1000)),
        }
        header = request.headers.get("authorization") or ""
        if header[7:] in self.static_tokens:  # daily headers: private apps only
            out["X-HubSpot-RateLimit-Daily"] = str(self.quota.limit)
            out["X-HubSpot-RateLimit-Daily-Remaining"] = str(
                max(0, self.quota.limit - self.quota.used)
            )
        response.headers.update(out)


def _too_many(policy: str, retry_after: int) -> Response:
    return hs_error(
        429,
        f"You have reached your {policy.lower()} limit.",
        "RATE_LIMITS",
        policyName=policy,
        errorType="RATE_LIMIT",
        headers={"Retry-After": str(max(1, retry_after))},
    )

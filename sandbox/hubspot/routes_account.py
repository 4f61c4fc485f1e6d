"""The account's own endpoints: the OAuth token (refresh-token grant of the sandbox app) and the
private-app daily API usage report."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mopsgate.connectors.hubspot.paths import DAILY_USAGE, OAUTH_TOKEN
from mopsgate.sandbox.emulator_base import Access, DailyQuota, EmulatorCore, Gate
from mopsgate.sandbox.hubspot import ids
from mopsgate.sandbox.hubspot.errors import hs_error
from mopsgate.sandbox.hubspot.state import now_iso


class AccountRoutes:
    def __init__(self, core: EmulatorCore, quota: DailyQuota) -> None:
        self.core = core
        self.quota = quota

    async def token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        ok = (
            form.get("grant_type") == "refresh_token"
            and form.get("refresh_token") == ids.SANDBOX_REFRESH_TOKEN
            and form.get("client_id") == ids.SANDBOX_CLIENT_ID
            and form.get("client_secret") == ids.SANDBOX_CLIENT_SECRET
        )
        if not ok:
            return hs_error(
                400, "missing or unknown refresh token, client id or secret", "BAD_REFRESH_TOKEN"
            )
        token, ttl = self.core.issue_token()
        return JSONResponse(
            {
                "access_token": token,
                "refresh_token": ids.SANDBOX_REFRESH_TOKEN,
                "token_type": "bearer",
                "expires_in": ttl,
            }
        )

    async def usage(self, request: Request) -> Response:
        return JSONResponse(
            {
                "results": [
                    {
                        "name": "private-apps-api-calls-daily",
                        "usageLimit": self.quota.limit,
                        "currentUsage": self.quota.used,
                        "collectedAt": now_iso(),
                        "fetchStatus": "SUCCESS",
                        "resetsAt": "2099-01-01T00:00:00.000Z",
                    }
                ]
            }
        )


def routes(gate: Gate, quota: DailyQuota) -> list[Route]:
    r = AccountRoutes(gate.core, quota)
    return [
        gate.route(OAUTH_TOKEN, r.token, ["POST"], access=Access.TOKEN),
        gate.route(DAILY_USAGE, r.usage),
    ]

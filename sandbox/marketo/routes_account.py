"""The instance's own endpoints: Identity (client-credentials tokens), sales persons and the
daily usage report."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mopsgate.sandbox.emulator_base import Access, DailyQuota, EmulatorCore, Gate
from mopsgate.sandbox.marketo.errors import MktoError
from mopsgate.sandbox.marketo.ids import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from mopsgate.sandbox.marketo.rules import InstanceRules
from mopsgate.sandbox.marketo.wire import Ctx, Envelope, Payload, page_after

IDENTITY = "/identity/oauth/token"


class Identity:
    """Same token while it is valid (with a smaller ``expires_in``), as Marketo does."""

    def __init__(self, core: EmulatorCore) -> None:
        self.core = core
        self._current: str | None = None

    async def token(self, request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.form()).items()})
        if params.get("grant_type") != "client_credentials":
            return JSONResponse(
                {
                    "error": "invalid_request",
                    "error_description": "grant_type must be client_credentials",
                },
                status_code=400,
            )
        if (params.get("client_id"), params.get("client_secret")) != (
            SANDBOX_CLIENT_ID,
            SANDBOX_CLIENT_SECRET,
        ):
            return JSONResponse(
                {"error": "unauthorized", "error_description": "Bad client credentials"},
                status_code=401,
            )
        return JSONResponse(self._token_body())

    def _token_body(self) -> dict[str, Any]:
        token = self._current
        expiry = self.core.tokens.get(token) if token else None
        if token is None or expiry is None or expiry <= time.monotonic():
            token, _ttl = self.core.issue_token()
            self._current = token
            expiry = self.core.tokens[token]
        remaining = max(0, int(expiry - time.monotonic()))
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": remaining,
            "scope": "api-user@sandbox.test",
        }


class AccountRoutes:
    def __init__(self, rules: InstanceRules, quota: DailyQuota) -> None:
        self.rules = rules
        self.quota = quota

    async def sales_persons(self, ctx: Ctx) -> Payload:
        """``filterType`` is optional here, though Marketo documents it as required."""
        people = {p["id"]: p for p in ctx.state.sales_persons()}
        chosen = sorted(people)
        filter_type, values = ctx.q("filterType"), set(ctx.csv("filterValues"))
        if filter_type:
            if filter_type not in ("id", "externalSalesPersonId", "email"):
                raise MktoError("1003", f"Unsupported filterType '{filter_type}'")
            chosen = [i for i in chosen if str(people[i][filter_type]) in values]
        page = page_after(chosen, ctx, ctx.batch_size())
        page["result"] = [dict(people[i]) for i in page.pop("ids")]
        return page

    async def usage(self, ctx: Ctx) -> Payload:
        used = self.quota.used
        return {
            "result": [
                {
                    "date": self.rules.now_iso()[:10],
                    "total": used,
                    "users": [{"userId": "api-user@sandbox.test", "count": used}],
                }
            ]
        }


def routes(gate: Gate, envelope: Envelope, rules: InstanceRules, quota: DailyQuota) -> list[Route]:
    identity = Identity(gate.core)
    r = AccountRoutes(rules, quota)
    return [
        gate.route(IDENTITY, identity.token, ["GET", "POST"], access=Access.TOKEN),
        gate.route("/rest/v1/salespersons.json", envelope.handler(r.sales_persons)),
        gate.route("/rest/v1/stats/usage.json", envelope.handler(r.usage)),
    ]

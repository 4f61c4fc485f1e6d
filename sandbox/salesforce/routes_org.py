"""The org's own endpoints: OAuth 2.0 client-credentials login, API versions and limits."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mopsgate.sandbox.emulator_base import Access, EmulatorCore, Gate
from mopsgate.sandbox.salesforce import ids
from mopsgate.sandbox.salesforce.errors import oauth_error


@dataclass
class Org:
    """Who the org lets in and where it says it lives."""

    credentials: tuple[str, str]
    instance_url: str | None
    versions: tuple[str, ...]


class OrgRoutes:
    def __init__(self, core: EmulatorCore, org: Org) -> None:
        self.core = core
        self.org = org

    async def token(self, request: Request) -> Response:
        form = await request.form()
        if form.get("grant_type") != "client_credentials":
            return oauth_error("unsupported_grant_type", "grant type not supported")
        if _credentials(request, form) != self.org.credentials:
            return oauth_error("invalid_client", "invalid client credentials")
        access, _ttl = self.core.issue_token()
        issued = str(int(time.time() * 1000))
        instance = self.org.instance_url or f"{request.url.scheme}://{request.url.netloc}"
        sig = hmac.new(b"emulator", (instance + issued).encode(), hashlib.sha256).digest()
        return JSONResponse(
            {
                "access_token": access,
                "instance_url": instance,
                "id": f"{instance}/id/00D5e0000000001/{ids.owner_id(5)}",
                "token_type": "Bearer",
                "issued_at": issued,
                "signature": base64.b64encode(sig).decode(),
                "scope": "api",
            }
        )

    async def versions(self, request: Request) -> Response:
        return JSONResponse(
            [
                {"label": f"v{v}", "url": f"/services/data/v{v}", "version": v}
                for v in self.org.versions
            ]
        )

    async def limits(self, request: Request) -> Response:
        window, cap = self.core.window, self.core.max_concurrent
        return JSONResponse(
            {
                "DailyApiRequests": {"Max": window.max_calls, "Remaining": window.remaining()},
                "ConcurrentPerOrgLongTxn": {"Max": cap, "Remaining": cap},
            }
        )


def _credentials(request: Request, form: Any) -> tuple[Any, Any]:
    """The client id and secret from the form or, as RFC 6749 prefers, HTTP Basic."""
    header = request.headers.get("authorization", "")
    if form.get("client_id") is None and header.startswith("Basic "):
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return None, None
        client_id, _, secret = decoded.partition(":")
        return unquote_plus(client_id), unquote_plus(secret)
    return form.get("client_id"), form.get("client_secret")


def routes(gate: Gate, org: Org) -> list[Route]:
    r = OrgRoutes(gate.core, org)
    return [
        gate.route("/services/oauth2/token", r.token, ["POST"], access=Access.TOKEN),
        gate.route("/services/data/", r.versions, access=Access.UNCOUNTED),
        gate.route("/services/data/{version}/limits", r.limits),
        gate.route("/services/data/{version}/limits/", r.limits),
    ]

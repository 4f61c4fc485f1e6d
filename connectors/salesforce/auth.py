"""OAuth 2.0 client-credentials session for the Salesforce client.

Salesforce hands back an ``instance_url`` with the token and every later call must go there,
so a login re-points the shared ``VendorHTTP`` at it. There is no ``expires_in``: the session
lives until Salesforce answers 401 ``INVALID_SESSION_ID``, and then ``refresh`` logs in again
(once per expiry, even with many calls in flight).
"""

from __future__ import annotations

import asyncio
import contextvars
from urllib.parse import urlsplit

from mopsgate.connectors.errors import MalformedResponse
from mopsgate.connectors.http import VendorHTTP
from mopsgate.connectors.salesforce.ids import VENDOR

# The token the current task last sent, so a 401 re-logs in only if nobody has done so since.
_sent_token: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "salesforce_sent_token", default=None
)


class SalesforceAuth:
    def __init__(self, login_url: str, client_id: str, client_secret: str) -> None:
        self.login_url = login_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self.token: str | None = None
        self.instance_url: str | None = None
        self.logins = 0
        self._lock = asyncio.Lock()

    async def headers(self, http: VendorHTTP) -> dict[str, str]:
        if self.token is None:
            await self._login_once(None, http)
        _sent_token.set(self.token)
        return {"Authorization": f"Bearer {self.token}"}

    async def refresh(self, http: VendorHTTP) -> None:
        await self._login_once(_sent_token.get() or self.token, http)

    async def _login_once(self, stale: str | None, http: VendorHTTP) -> None:
        async with self._lock:
            if self.token is None or self.token == stale:
                await self._login(http)

    async def _login(self, http: VendorHTTP) -> None:
        self.token = None
        body = await http.send(
            "POST",
            f"{self.login_url}/services/oauth2/token",
            authenticated=False,
            data={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
            },
        )
        token = body.get("access_token") if isinstance(body, dict) else None
        instance = body.get("instance_url") if isinstance(body, dict) else None
        if not isinstance(token, str) or not isinstance(instance, str):
            raise MalformedResponse(VENDOR, "token response lacks access_token/instance_url")
        parts = urlsplit(instance)
        if parts.scheme != "https" or not parts.netloc or parts.path not in ("", "/"):
            raise MalformedResponse(
                VENDOR, f"refusing instance_url {instance!r}: expected https://<host>"
            )
        self.instance_url = f"https://{parts.netloc}"
        self.token = token
        self.logins += 1
        http.base_url = self.instance_url
        http.client.base_url = self.instance_url

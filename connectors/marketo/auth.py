"""Marketo credentials: a LaunchPoint service's client id and secret, exchanged at Identity for
an access token."""

from __future__ import annotations

import time

from mopsgate.connectors.errors import MalformedResponse
from mopsgate.connectors.http import Clock, VendorHTTP
from mopsgate.connectors.marketo.ids import VENDOR


class MarketoAuth:
    """Client-credentials token, cached and renewed when fewer than 60 s remain."""

    def __init__(self, client_id: str, client_secret: str, clock: Clock = time.monotonic) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self.fetches = 0

    async def headers(self, http: VendorHTTP) -> dict[str, str]:
        if self._token is None or self._clock() >= self._expires_at - 60:
            await self.refresh(http)
        return {"Authorization": f"Bearer {self._token}"}

    async def refresh(self, http: VendorHTTP) -> None:
        body = await http.send(
            "GET",
            "/identity/oauth/token",
            authenticated=False,
            params={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
            },
        )
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise MalformedResponse(VENDOR, "identity response carries no access_token")
        self.fetches += 1
        self._token = token
        self._expires_at = self._clock() + float(body.get("expires_in") or 0)

"""HubSpot credentials: a private-app static token, or OAuth 2 with a refresh token.

A private-app token does not expire by time; a 401 ``EXPIRED_AUTHENTICATION`` for it means
someone rotated or revoked it, and no refresh can help: we fail with an ``AuthError`` that
says what to do. OAuth access tokens live 30 minutes; HubSpot asks integrations to refresh by
``expires_in`` rather than on a 401, so the OAuth manager refreshes ahead of expiry and, as a
last resort, once on an expired-token answer (``VendorHTTP.send`` calls ``refresh``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from mopsgate.connectors.errors import AuthError, MalformedResponse
from mopsgate.connectors.hubspot.ids import VENDOR
from mopsgate.connectors.hubspot.paths import OAUTH_TOKEN

if TYPE_CHECKING:
    from mopsgate.connectors.http import VendorHTTP

REFRESH_MARGIN = 60.0  # seconds before expiry at which a token is renewed


class StaticTokenAuth:
    def __init__(self, token: str) -> None:
        self._token = token

    async def headers(self, http: VendorHTTP) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    async def refresh(self, http: VendorHTTP) -> None:
        raise AuthError(
            VENDOR,
            "HubSpot rejected the private-app access token as expired or "
            "revoked; private-app tokens cannot be refreshed. Rotate the token in "
            "HubSpot and update HUBSPOT_ACCESS_TOKEN (or configure OAuth with "
            "HUBSPOT_REFRESH_TOKEN).",
            code="EXPIRED_AUTHENTICATION",
        )


class OAuthRefreshAuth:
    def __init__(
        self,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        *,
        access_token: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._access = access_token
        self._clock = clock
        self._expires_at = clock() + 1800.0 if access_token else 0.0
        self.refreshes = 0

    async def headers(self, http: VendorHTTP) -> dict[str, str]:
        if self._access is None or self._clock() >= self._expires_at - REFRESH_MARGIN:
            await self.refresh(http)
        return {"Authorization": f"Bearer {self._access}"}

    async def refresh(self, http: VendorHTTP) -> None:
        body = await http.send(
            "POST",
            OAUTH_TOKEN,
            authenticated=False,
            data={
                "grant_type": "refresh_token",
                "refresh_token": self._refresh_token,
                "client_id": self._client_id,
                "client_secret": self._client_secret,
            },
        )
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise MalformedResponse(VENDOR, "the OAuth token response has no access_token")
        self._access = body["access_token"]
        self._refresh_token = str(body.get("refresh_token") or self._refresh_token)
        self._expires_at = self._clock() + float(body.get("expires_in", 1800))
        self.refreshes += 1

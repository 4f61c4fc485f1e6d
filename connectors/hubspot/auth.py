"""HubSpot credentials: a private-app static token, or OAuth 2 with a refresh token.

A private-app token does not expire by time; a 401 ``EXPIRED_AUTHENTICATION`` for it means
someone rotated or revoked it, and no refresh can help: we fail with an ``AuthError`` that
says what to do. OAuth access tokens live 30 minutes; HubSpot asks integrations to refresh by
``expires_in`` rather than on a 401, so the OAuth session refreshes ahead of expiry and, as a
last resort, once on an expired-token answer, one refresh at a time (``connectors.oauth``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from mopsgate.connectors.http import Clock, VendorHTTP
from mopsgate.connectors.hubspot.ids import VENDOR
from mopsgate.connectors.hubspot.paths import OAUTH_TOKEN
from mopsgate.connectors.oauth import OAuthSession, Token, refresh_token
from mopsgate.crm.errors import AuthError

ACCESS_TOKEN_TTL = 1800.0  # OAuth access tokens live 30 minutes
REFRESH_MARGIN = 60.0  # seconds before expiry at which a token is renewed


class StaticTokenAuth:
    def __init__(self, token: str) -> None:
        self._token = token

    async def headers(self, http: VendorHTTP) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    async def refresh(self, http: VendorHTTP, rejected: Mapping[str, str]) -> None:
        raise AuthError(
            VENDOR,
            "HubSpot rejected the private-app access token as expired or "
            "revoked; private-app tokens cannot be refreshed. Rotate the token in "
            "HubSpot and update HUBSPOT_ACCESS_TOKEN (or configure OAuth with "
            "HUBSPOT_REFRESH_TOKEN).",
            code="EXPIRED_AUTHENTICATION",
        )


def oauth_auth(
    client_id: str,
    client_secret: str,
    refresh: str,
    *,
    access_token: str | None = None,
    clock: Clock = time.monotonic,
) -> OAuthSession:
    """An OAuth app's session; ``access_token``, when known, is used until it is due."""
    grant = refresh_token(
        VENDOR, OAUTH_TOKEN, client_id, client_secret, refresh, default_ttl=ACCESS_TOKEN_TTL
    )
    held = Token(access_token, ACCESS_TOKEN_TTL) if access_token else None
    return OAuthSession(grant, clock=clock, margin=REFRESH_MARGIN, token=held)

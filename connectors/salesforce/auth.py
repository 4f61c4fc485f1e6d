"""Salesforce credentials: an OAuth 2.0 client-credentials login to the org's My Domain.

Salesforce hands back an ``instance_url`` with the token and every later call must go there,
so a login re-points the shared ``VendorHTTP`` at it (after checking it is a plain https
origin). There is no ``expires_in``: the session lives until Salesforce answers 401
``INVALID_SESSION_ID``, and then the client logs in again, once per expiry however many calls
are in flight (``connectors.oauth``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from mopsgate.connectors.http import VendorHTTP
from mopsgate.connectors.oauth import Grant, OAuthSession, Token, client_credentials
from mopsgate.connectors.salesforce.ids import VENDOR
from mopsgate.crm.errors import MalformedResponse


def instance_origin(instance: object) -> str:
    """``https://<host>`` of a token answer's ``instance_url``; anything else is refused."""
    parts = urlsplit(instance if isinstance(instance, str) else "")
    if parts.scheme != "https" or not parts.netloc or parts.path not in ("", "/"):
        raise MalformedResponse(
            VENDOR, f"refusing instance_url {instance!r}: expected https://<host>"
        )
    return f"https://{parts.netloc}"


def login(login_url: str, client_id: str, client_secret: str) -> Grant:
    token_url = f"{login_url.rstrip('/')}/services/oauth2/token"
    base = client_credentials(VENDOR, token_url, client_id, client_secret)

    async def grant(http: VendorHTTP) -> Token:
        token = await base(http)
        instance = instance_origin(token.body.get("instance_url"))
        http.base_url = instance
        http.client.base_url = instance
        return token

    return grant


def salesforce_auth(login_url: str, client_id: str, client_secret: str) -> OAuthSession:
    return OAuthSession(login(login_url, client_id, client_secret))

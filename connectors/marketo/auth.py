"""Marketo credentials: a LaunchPoint service's client id and secret, exchanged at Identity for
an access token (``GET /identity/oauth/token`` with the credentials in the query string, as
Marketo documents; proxies may log URLs). The token is renewed when fewer than 60 s remain and
once on 601/602, one renewal at a time (``connectors.oauth``)."""

from __future__ import annotations

import time

from mopsgate.connectors.http import Clock
from mopsgate.connectors.marketo.ids import VENDOR
from mopsgate.connectors.oauth import OAuthSession, client_credentials

IDENTITY = "/identity/oauth/token"


def marketo_auth(client_id: str, client_secret: str, clock: Clock = time.monotonic) -> OAuthSession:
    grant = client_credentials(VENDOR, IDENTITY, client_id, client_secret, in_query=True)
    return OAuthSession(grant, clock=clock, margin=60.0)

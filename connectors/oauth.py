"""One OAuth 2 access-token session for every client that needs one.

``OAuthSession`` is the ``Auth`` a client hands its ``VendorHTTP``: it keeps one access token,
renews it ahead of expiry (when the vendor says when that is) and once when the vendor refuses
it as expired, and serialises renewals with one lock per client, so however many calls find the
token stale at once, the vendor sees one token request. A call refused with a token someone
else has already replaced simply retries with the new one.

How a token is obtained is a ``Grant``: ``client_credentials`` (Marketo, Salesforce) or
``refresh_token`` (HubSpot OAuth apps); a vendor wraps one when the answer carries more (the
Salesforce instance URL).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mopsgate.connectors.http import Clock, VendorHTTP
from mopsgate.crm.errors import MalformedResponse


@dataclass(frozen=True)
class Token:
    value: str
    expires_in: float | None  # seconds from issue; None: valid until the vendor refuses it
    body: Mapping[str, Any] = field(default_factory=dict)  # the whole answer


Grant = Callable[[VendorHTTP], Awaitable[Token]]


def parse_token(vendor: str, body: Any, default_ttl: float | None = None) -> Token:
    """The access token of a token endpoint's JSON answer; refuses one without it."""
    value = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(value, str) or not value:
        raise MalformedResponse(vendor, "the token response carries no access_token")
    expires_in: float | None = default_ttl
    with contextlib.suppress(KeyError, TypeError, ValueError):
        expires_in = float(body["expires_in"])
    return Token(value, expires_in, body)


def client_credentials(
    vendor: str, url: str, client_id: str, client_secret: str, *, in_query: bool = False
) -> Grant:
    """The client-credentials grant, posted as a form (or, as Marketo's Identity documents,
    sent as GET query parameters with ``in_query``)."""
    params = {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": client_secret,
    }

    async def grant(http: VendorHTTP) -> Token:
        if in_query:
            body = await http.send("GET", url, params=params, authenticated=False)
        else:
            body = await http.send("POST", url, data=params, authenticated=False)
        return parse_token(vendor, body)

    return grant


def refresh_token(
    vendor: str,
    url: str,
    client_id: str,
    client_secret: str,
    token: str,
    *,
    default_ttl: float | None = None,
) -> Grant:
    """The refresh-token grant; a rotated refresh token in the answer is used next time."""
    current = [token]

    async def grant(http: VendorHTTP) -> Token:
        body = await http.send(
            "POST",
            url,
            authenticated=False,
            data={
                "grant_type": "refresh_token",
                "refresh_token": current[0],
                "client_id": client_id,
                "client_secret": client_secret,
            },
        )
        issued = parse_token(vendor, body, default_ttl)
        current[0] = str(issued.body.get("refresh_token") or current[0])
        return issued

    return grant


class OAuthSession:
    """``Auth`` for OAuth 2 bearer tokens: one token, one renewal at a time."""

    def __init__(
        self,
        grant: Grant,
        *,
        clock: Clock = time.monotonic,
        margin: float = 60.0,
        token: Token | None = None,
    ) -> None:
        """``margin``: renew this many seconds before the vendor's expiry. ``token``: one
        already held (e.g. from configuration), used until it expires or is refused."""
        self._grant = grant
        self._clock = clock
        self._margin = margin
        self._lock = asyncio.Lock()
        self._token: Token | None = None
        self._expires_at: float | None = None
        self.token_requests = 0
        if token is not None:
            self._hold(token)

    @property
    def token(self) -> Token | None:
        return self._token

    def _hold(self, token: Token) -> None:
        self._token = token
        ttl = token.expires_in
        self._expires_at = None if ttl is None else self._clock() + ttl

    def _fresh(self) -> bool:
        if self._token is None:
            return False
        return self._expires_at is None or self._clock() < self._expires_at - self._margin

    async def headers(self, http: VendorHTTP) -> dict[str, str]:
        if not self._fresh():
            await self._renew(http, stale=self._token)
        assert self._token is not None
        return {"Authorization": f"Bearer {self._token.value}"}

    async def refresh(self, http: VendorHTTP, rejected: Mapping[str, str]) -> None:
        """The vendor refused the token sent in ``rejected``: renew it, unless another call
        already has."""
        held = self._token
        if held is not None and rejected.get("Authorization") != f"Bearer {held.value}":
            return
        await self._renew(http, stale=held)

    async def _renew(self, http: VendorHTTP, stale: Token | None) -> None:
        async with self._lock:
            if self._token is not stale and self._fresh():
                return  # renewed while this call waited for the lock
            token = await self._grant(http)
            self.token_requests += 1
            self._hold(token)

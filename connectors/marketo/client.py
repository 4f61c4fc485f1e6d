"""``MarketoClient``: the Connector protocol over Marketo Engage's REST API.

Construction is the only thing here: one session over the one ``VendorHTTP`` chokepoint, and
the parts that do each job (``people``, ``lists``, ``campaigns``, ``activities``, ``account``,
``writes``). Client-side limits default to 90 calls per 20 s and 8 in flight, inside Marketo's
published 100 per 20 s and 10 concurrent, which every integration of the instance shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from mopsgate.connectors.composed import ComposedConnector, restricted
from mopsgate.connectors.http import Clock, RateLimiter, RetryPolicy, VendorHTTP
from mopsgate.connectors.marketo import ids
from mopsgate.connectors.marketo.account import MarketoAccount
from mopsgate.connectors.marketo.activities import MarketoActivities
from mopsgate.connectors.marketo.auth import marketo_auth
from mopsgate.connectors.marketo.campaigns import MarketoCampaigns
from mopsgate.connectors.marketo.capabilities import CAPABILITIES
from mopsgate.connectors.marketo.errors import map_error
from mopsgate.connectors.marketo.lists import MarketoLists
from mopsgate.connectors.marketo.people import MarketoPeople
from mopsgate.connectors.marketo.session import MarketoSession
from mopsgate.connectors.marketo.writes import MarketoWrites
from mopsgate.crm.errors import ConfigError

ENV_VARS = ("MARKETO_BASE_URL", "MARKETO_CLIENT_ID", "MARKETO_CLIENT_SECRET")


def default_limiter() -> RateLimiter:
    return RateLimiter(90, 20.0, max_concurrent=8)


def _root(base_url: str) -> str:
    """Accept the instance root or the ``…/rest`` / ``…/identity`` URLs Admin shows."""
    root = base_url.strip().rstrip("/")
    for suffix in ("/rest", "/identity"):
        if root.endswith(suffix):
            root = root[: -len(suffix)]
    return root


class MarketoClient(ComposedConnector):
    name = ids.VENDOR
    person_objects: tuple[str, ...] = (ids.LEAD,)
    capabilities = CAPABILITIES
    owner_object = ids.SALES_PERSON
    people: MarketoPeople
    lists: MarketoLists
    campaigns: MarketoCampaigns
    activities: MarketoActivities
    account: MarketoAccount
    writes: MarketoWrites

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        auth_clock: Clock | None = None,
        timeout: float = 90.0,
    ) -> None:
        self.auth = (
            marketo_auth(client_id, client_secret, auth_clock)
            if auth_clock
            else marketo_auth(client_id, client_secret)
        )
        self.session = MarketoSession(
            VendorHTTP(
                vendor=ids.VENDOR,
                base_url=_root(base_url),
                error_mapper=map_error,
                auth=self.auth,
                limiter=limiter or default_limiter(),
                retry=retry or RetryPolicy(),
                transport=transport,
                timeout=timeout,
            )
        )
        people = MarketoPeople(self.session)
        lists = MarketoLists(self.session, people)
        super().__init__(
            self.session.http,
            people=people,
            lists=lists,
            campaigns=MarketoCampaigns(self.session),
            activities=MarketoActivities(self.session),
            account=MarketoAccount(self.session),
            writes=MarketoWrites(self.session, lists),
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str], **kw: Any) -> MarketoClient:
        for var in ENV_VARS:
            if not env.get(var, "").strip():
                hint = (
                    "e.g. https://123-ABC-456.mktorest.com"
                    if var == ENV_VARS[0]
                    else "Admin > LaunchPoint > your custom service"
                )
                raise ConfigError(ids.VENDOR, var, hint)
        return restricted(
            cls(
                env["MARKETO_BASE_URL"],
                env["MARKETO_CLIENT_ID"].strip(),
                env["MARKETO_CLIENT_SECRET"].strip(),
                **kw,
            ),
            env,
        )

"""``HubSpotClient``: the Connector protocol over HubSpot's CRM, Lists, Marketing and
Communication Preferences APIs.

Construction is the only thing here: one session (the ``VendorHTTP`` chokepoint and the path
family) and the parts that do each job.

Credentials: a private-app token (``HUBSPOT_ACCESS_TOKEN``), or OAuth with a refresh token
(``HUBSPOT_REFRESH_TOKEN`` + ``HUBSPOT_CLIENT_ID`` + ``HUBSPOT_CLIENT_SECRET``). The path
family (``/crm/v3`` or date-versioned ``2026-03``) is configuration: ``HUBSPOT_API_FAMILY``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from mopsgate.connectors.composed import ComposedConnector, restricted
from mopsgate.connectors.http import Auth
from mopsgate.connectors.hubspot import ids
from mopsgate.connectors.hubspot.account import HubSpotAccount
from mopsgate.connectors.hubspot.activities import HubSpotActivities
from mopsgate.connectors.hubspot.auth import StaticTokenAuth, oauth_auth
from mopsgate.connectors.hubspot.campaigns import HubSpotCampaigns
from mopsgate.connectors.hubspot.capabilities import CAPABILITIES
from mopsgate.connectors.hubspot.lists import HubSpotLists
from mopsgate.connectors.hubspot.paths import FAMILIES, ApiFamily
from mopsgate.connectors.hubspot.people import HubSpotPeople
from mopsgate.connectors.hubspot.session import DEFAULT_BASE_URL, HubSpotSession
from mopsgate.connectors.hubspot.writes import HubSpotWrites
from mopsgate.crm.errors import ConfigError


class HubSpotClient(ComposedConnector):
    name = ids.VENDOR
    person_objects: tuple[str, ...] = (ids.CONTACT,)
    capabilities = CAPABILITIES
    to_common: ClassVar[Mapping[str, Mapping[str, str]]] = {
        "lifecycle_stage": ids.LIFECYCLE_FROM_HUBSPOT
    }
    people: HubSpotPeople
    lists: HubSpotLists
    campaigns: HubSpotCampaigns
    activities: HubSpotActivities
    account: HubSpotAccount
    writes: HubSpotWrites

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        access_token: str | None = None,
        *,
        auth: Auth | None = None,
        api_family: ApiFamily = "v3",
        **kw: Any,
    ) -> None:
        """``kw``: ``transport``, ``retry``, ``limiter``, ``search_limiter``."""
        if auth is None:
            if not access_token:
                raise ValueError("HubSpotClient needs access_token or auth")
            auth = StaticTokenAuth(access_token)
        if api_family not in FAMILIES:
            raise ValueError(f"api_family must be one of {FAMILIES}, got {api_family!r}")
        self.auth = auth
        self.session = HubSpotSession(base_url, auth, api_family=api_family, **kw)
        lists = HubSpotLists(self.session)
        campaigns = HubSpotCampaigns(self.session)
        super().__init__(
            self.session.http,
            people=HubSpotPeople(self.session, lists),
            lists=lists,
            campaigns=campaigns,
            activities=HubSpotActivities(self.session, campaigns),
            account=HubSpotAccount(self.session),
            writes=HubSpotWrites(self.session),
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str], **kw: Any) -> HubSpotClient:
        family = env.get("HUBSPOT_API_FAMILY") or "v3"
        if family not in FAMILIES:
            raise ValueError(f"HUBSPOT_API_FAMILY must be one of {FAMILIES}, got {family!r}")
        base_url = env.get("HUBSPOT_BASE_URL") or DEFAULT_BASE_URL
        api_family: ApiFamily = family
        if env.get("HUBSPOT_REFRESH_TOKEN"):
            for var in ("HUBSPOT_CLIENT_ID", "HUBSPOT_CLIENT_SECRET"):
                if not env.get(var):
                    raise ConfigError(ids.VENDOR, var, "needed with HUBSPOT_REFRESH_TOKEN")
            auth = oauth_auth(
                env["HUBSPOT_CLIENT_ID"],
                env["HUBSPOT_CLIENT_SECRET"],
                env["HUBSPOT_REFRESH_TOKEN"],
                access_token=env.get("HUBSPOT_ACCESS_TOKEN") or None,
            )
            return restricted(cls(base_url, auth=auth, api_family=api_family, **kw), env)
        token = env.get("HUBSPOT_ACCESS_TOKEN")
        if not token:
            raise ConfigError(
                ids.VENDOR, "HUBSPOT_ACCESS_TOKEN", "a private-app access token, pat-..."
            )
        return restricted(cls(base_url, token, api_family=api_family, **kw), env)

"""``SalesforceClient``: the Connector protocol over Salesforce's REST API (SOQL reads,
sObject Collections writes). Construction is the only thing here: one session and the parts
that do each job.

People are Leads and Contacts; static lists are Campaigns of Type 'List' (membership is
CampaignMember rows); campaigns are the other Campaigns, with their CampaignMemberStatus ladder;
activities are Tasks; owners are Users. Every query is built by ``soql_build`` (quoted values,
catalogue-checked names), and every id is shape-checked before it reaches a path or a query.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from mopsgate.connectors.composed import ComposedConnector, restricted
from mopsgate.connectors.http import RateLimiter, RetryPolicy
from mopsgate.connectors.salesforce import ids
from mopsgate.connectors.salesforce.account import SalesforceAccount
from mopsgate.connectors.salesforce.activities import SalesforceActivities
from mopsgate.connectors.salesforce.auth import salesforce_auth
from mopsgate.connectors.salesforce.campaigns import SalesforceCampaigns
from mopsgate.connectors.salesforce.capabilities import CAPABILITIES
from mopsgate.connectors.salesforce.lists import SalesforceLists
from mopsgate.connectors.salesforce.people import SalesforcePeople
from mopsgate.connectors.salesforce.session import SalesforceSession
from mopsgate.connectors.salesforce.writes import SalesforceWrites
from mopsgate.crm.errors import ConfigError


class SalesforceClient(ComposedConnector):
    name = ids.VENDOR
    person_objects: tuple[str, ...] = ids.PERSON_OBJECTS
    capabilities = CAPABILITIES
    owner_object = ids.USER
    people: SalesforcePeople
    lists: SalesforceLists
    campaigns: SalesforceCampaigns
    activities: SalesforceActivities
    account: SalesforceAccount
    writes: SalesforceWrites

    def __init__(
        self,
        login_url: str,
        client_id: str,
        client_secret: str,
        *,
        api_version: str = ids.DEFAULT_API_VERSION,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.auth = salesforce_auth(login_url, client_id, client_secret)
        self.session = SalesforceSession(
            login_url,
            self.auth,
            api_version=api_version,
            transport=transport,
            retry=retry,
            limiter=limiter,
            timeout=timeout,
        )
        people = SalesforcePeople(self.session)
        campaigns = SalesforceCampaigns(self.session)
        super().__init__(
            self.session.http,
            people=people,
            lists=SalesforceLists(self.session, people, campaigns),
            campaigns=campaigns,
            activities=SalesforceActivities(self.session),
            account=SalesforceAccount(self.session),
            writes=SalesforceWrites(self.session),
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str], **kw: Any) -> SalesforceClient:
        values: dict[str, str] = {}
        for var in ("SALESFORCE_LOGIN_URL", "SALESFORCE_CLIENT_ID", "SALESFORCE_CLIENT_SECRET"):
            if not env.get(var):
                hint = (
                    "your My Domain URL, e.g. https://acme.my.salesforce.com"
                    if var == "SALESFORCE_LOGIN_URL"
                    else "from the connected app"
                )
                raise ConfigError(ids.VENDOR, var, hint)
            values[var] = env[var]
        if not values["SALESFORCE_LOGIN_URL"].startswith("https://"):
            raise ConfigError(ids.VENDOR, "SALESFORCE_LOGIN_URL", "must start with https://")
        version = env.get("SALESFORCE_API_VERSION") or ids.DEFAULT_API_VERSION
        if not ids.VERSION_RE.match(version):
            raise ConfigError(ids.VENDOR, "SALESFORCE_API_VERSION", "expected e.g. v62.0")
        kw.setdefault("api_version", version)
        return restricted(
            cls(
                values["SALESFORCE_LOGIN_URL"],
                values["SALESFORCE_CLIENT_ID"],
                values["SALESFORCE_CLIENT_SECRET"],
                **kw,
            ),
            env,
        )

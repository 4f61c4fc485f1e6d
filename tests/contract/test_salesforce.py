"""The Salesforce emulator as ``simple-salesforce`` (the de-facto client) and mopsgate's own
client meet it over loopback HTTP: the client-credentials login with HTTP Basic, queries at
``query/`` and ``queryAll/`` answered directly, the global describe and Campaign /
CampaignMember describes, one record created, read, updated and deleted, a campaign member
added, ``limits/``, and unknown paths in Salesforce's error array.

simple-salesforce builds every URL with https and its login URL from a Salesforce domain; here
the session carries a transport adapter sending to the plain-HTTP emulator (the https case is
``test_sandbox_serve.py``), ``trust_env=False`` keeps this machine's CA bundle and proxies out,
and the "domain" carries the emulator's host, port and token path.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from mopsgate.connectors.salesforce.client import SalesforceClient
from mopsgate.crm.records import PersonUpdate
from mopsgate.sandbox.salesforce import SalesforceEmulator
from mopsgate.sandbox.salesforce import ids as sf
from mopsgate.sandbox.seed import seed_data

SEED = seed_data()
VERSION = "62.0"


class PlainHTTP(requests.adapters.HTTPAdapter):
    """Sends what the library addresses to https://127.0.0.1:PORT over plain HTTP."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        request.url = (request.url or "").replace("https://", "http://", 1)
        return super().send(request, *args, **kwargs)


def _error(exc: Any) -> dict[str, Any]:
    """The first entry of the error array the library parsed (it must be an array)."""
    found: dict[str, Any] = exc.content[0]
    return found


@pytest.fixture
def emu() -> SalesforceEmulator:
    return SalesforceEmulator(SEED)


@pytest.fixture
def lib(emu: SalesforceEmulator, serve: Callable[[Any], str]) -> Salesforce:
    host = serve(emu.app).removeprefix("http://")
    session = requests.Session()
    session.trust_env = False
    session.mount(f"https://{host}", PlainHTTP())
    return Salesforce(  # client credentials, sent as HTTP Basic
        consumer_key=sf.SANDBOX_CLIENT_ID,
        consumer_secret=sf.SANDBOX_CLIENT_SECRET,
        domain=f"{host}/services/oauth2/token?x=",  # -> https://{host}/…token?x=.salesforce.com/…
        session=session,
        version=VERSION,
    )


def test_login_query_and_describe(lib: Any, emu: SalesforceEmulator):
    [token_call] = emu.requests_to("/services/oauth2/token")
    assert token_call.status == 200 and lib.session_id
    leads = lib.query("SELECT Id, Email FROM Lead ORDER BY Id LIMIT 2")
    assert [r["Id"] for r in leads["records"]] == [sf.person_id(0), sf.person_id(1)]
    contacts = lib.query_all("SELECT Id FROM Contact", include_deleted=True)  # queryAll/
    assert contacts["totalSize"] == sum(1 for p in SEED.people if sf.is_contact(p.idx))
    assert all(r.status != 307 for r in emu.core.requests)  # query/ is answered, not redirected

    names = {o["name"] for o in lib.describe()["sobjects"]}
    assert {"Lead", "Contact", "Campaign", "CampaignMember", "Task"} <= names
    campaign = {f["name"]: f for f in lib.Campaign.describe()["fields"]}
    assert (
        campaign["NumberOfLeads"]["type"] == "int" and not campaign["NumberOfLeads"]["updateable"]
    )
    member = {f["name"]: f for f in lib.CampaignMember.describe()["fields"]}
    assert member["Status"]["updateable"] and member["LeadId"]["type"] == "reference"
    assert lib.limits()["DailyApiRequests"]["Max"] > 0  # limits/

    with pytest.raises(SalesforceResourceNotFound) as unknown:
        lib.restful("nope")
    assert _error(unknown.value)["errorCode"] == "NOT_FOUND"


def test_one_record_created_read_updated_deleted(lib: Any, emu: SalesforceEmulator):
    made = lib.Lead.create({"LastName": "New", "Company": "Acme", "Email": "n@example.test"})
    assert made["success"] and made["id"].startswith("00Q")
    assert lib.Lead.update(made["id"], {"Title": "CMO"}) == 204
    assert lib.Lead.get(made["id"])["Title"] == "CMO"
    assert emu.person_fields(made["id"])["Status"] == "New"  # the org's default

    with pytest.raises(SalesforceMalformedRequest) as missing:
        lib.Lead.create({"Email": "no.name@example.test"})
    assert _error(missing.value)["errorCode"] == "REQUIRED_FIELD_MISSING"
    with pytest.raises(SalesforceMalformedRequest) as read_only:
        lib.Lead.update(made["id"], {"Name": "x"})
    assert _error(read_only.value)["fields"] == ["Name"]

    camp = SEED.campaigns[0]
    joined = lib.CampaignMember.create(
        {"CampaignId": sf.campaign_id(camp.idx), "LeadId": made["id"], "Status": camp.ladder[1][0]}
    )
    assert joined["success"]
    assert emu.campaign_member_status(sf.campaign_id(camp.idx), made["id"]) == camp.ladder[1][0]

    assert lib.Lead.delete(made["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound) as gone:
        lib.Lead.get(made["id"])
    assert _error(gone.value)["errorCode"] == "ENTITY_IS_DELETED"
    assert sf.campaign_id(camp.idx) not in {
        m["CampaignId"] for m in emu.records("CampaignMember").values() if m["LeadId"] == made["id"]
    }


async def test_mopsgate_client_over_loopback_https(
    emu: SalesforceEmulator, serve: Callable[..., str], certificate: tuple[Path, Path]
):
    """mopsgate's client accepts only an https instance: the emulator serves TLS here."""
    cert, key = certificate
    base = serve(emu.app, ssl_certfile=str(cert), ssl_keyfile=str(key))
    trusting = httpx.AsyncHTTPTransport(verify=ssl.create_default_context(cafile=str(cert)))
    client = SalesforceClient(
        base.replace("http://", "https://"),
        sf.SANDBOX_CLIENT_ID,
        sf.SANDBOX_CLIENT_SECRET,
        transport=trusting,
    )
    ref = sf.person_ref(11)
    [done] = await client.update_people([PersonUpdate(ref=ref, fields={"Title": "Looped"})])
    assert done.ok
    assert (await client.get_person(ref)).fields["Title"] == "Looped"
    await client.aclose()

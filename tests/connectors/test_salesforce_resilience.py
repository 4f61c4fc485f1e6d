"""Auth, limits, retries, configuration and determinism of the Salesforce client/emulator."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from mopsgate.connectors.http import RateLimiter, RetryPolicy
from mopsgate.connectors.salesforce.client import SalesforceClient
from mopsgate.crm.errors import AuthError, ConfigError, InvalidRequest, QuotaExceeded
from mopsgate.sandbox.salesforce import ids
from mopsgate.sandbox.salesforce.connect import sandbox_client
from mopsgate.sandbox.salesforce.emulator import SalesforceEmulator
from tests.support.clock import FakeClock

TOKEN = "/services/oauth2/token"
ENV = {
    "SALESFORCE_LOGIN_URL": "https://acme.my.salesforce.com",
    "SALESFORCE_CLIENT_ID": "cid",
    "SALESFORCE_CLIENT_SECRET": "secret",
}


def _client(
    emu: SalesforceEmulator,
    clock: FakeClock | None = None,
    limiter: RateLimiter | None = None,
    **kw: Any,
) -> SalesforceClient:
    return sandbox_client(
        emu,
        retry=RetryPolicy(sleep=(clock or FakeClock()).sleep, jitter=lambda: 0.5),
        limiter=limiter or RateLimiter(10_000, 1.0, 50),
        **kw,
    )


@pytest.fixture
def emu() -> SalesforceEmulator:
    return SalesforceEmulator()


async def test_token_response_and_instance_url(emu: SalesforceEmulator) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url="https://login.example.test"
    ) as http:
        ok = await http.post(
            TOKEN,
            data={
                "grant_type": "client_credentials",
                "client_id": "sandbox",
                "client_secret": "sandbox",
            },
        )
        body = ok.json()
        assert {"access_token", "instance_url", "token_type", "issued_at", "signature"} <= set(body)
        assert body["instance_url"] == "https://login.example.test"
        bad = await http.post(TOKEN, data={"grant_type": "password"})
        assert bad.status_code == 400 and bad.json()["error"] == "unsupported_grant_type"
        anon = await http.get("/services/data/v62.0/limits")
        assert anon.status_code == 401
        assert anon.json() == [
            {
                "message": "Session expired or invalid",
                "errorCode": "INVALID_SESSION_ID",
                "fields": [],
            }
        ]


async def test_wrong_credentials_raise_auth_error(emu: SalesforceEmulator) -> None:
    client = SalesforceClient(
        "https://x.my.salesforce.test",
        "sandbox",
        "wrong",
        transport=httpx.ASGITransport(app=emu.app),
    )
    with pytest.raises(AuthError) as exc:
        await client.get_person(ids.person_ref(0))
    assert exc.value.code == "invalid_client"
    assert "invalid client credentials" in str(exc.value)
    await client.aclose()


async def test_token_expiry_mid_run_reauthenticates_once(emu: SalesforceEmulator) -> None:
    client = _client(emu)
    await client.get_person(ids.person_ref(0))
    emu.core.faults.expire_tokens = True
    person = await client.get_person(ids.person_ref(1))
    assert person.ref == ids.person_ref(1)
    assert [r.status for r in emu.core.requests] == [200, 200, 401, 200, 200]
    assert sum(1 for r in emu.core.requests if r.path == TOKEN) == 2
    assert client.auth.token_requests == 2
    await client.aclose()


async def test_concurrent_expiry_logs_in_once(emu: SalesforceEmulator) -> None:
    client = _client(emu)
    await client.get_person(ids.person_ref(0))
    emu.core.faults.expire_tokens = True
    emu.core.faults.slow_seconds = 0.002
    people = await asyncio.gather(*(client.get_person(ids.person_ref(i)) for i in range(8)))
    assert [p.ref for p in people] == [ids.person_ref(i) for i in range(8)]
    assert client.auth.token_requests == 2
    await client.aclose()


async def test_request_limit_exceeded_is_never_retried(
    emu: SalesforceEmulator, fake_clock: FakeClock
) -> None:
    client = _client(emu, fake_clock)
    await client.get_person(ids.person_ref(0))
    emu.core.faults.rate_limit_next = 1
    with pytest.raises(QuotaExceeded) as exc:
        await client.get_person(ids.person_ref(1))
    assert exc.value.code == "REQUEST_LIMIT_EXCEEDED"
    assert exc.value.message == "TotalRequests Limit exceeded."
    assert emu.core.requests[-1].status == 403 and fake_clock.slept == []
    assert sum(1 for r in emu.core.requests if r.path == TOKEN) == 1  # no re-auth on 403
    await client.aclose()


async def test_daily_allocation_is_enforced() -> None:
    emu = SalesforceEmulator(daily_limit=3)
    client = _client(emu)
    for i in range(3):
        await client.get_person(ids.person_ref(i))
    with pytest.raises(QuotaExceeded):
        await client.get_person(ids.person_ref(3))
    assert emu.core.window.violations == 1
    await client.aclose()


async def test_client_limiter_keeps_inside_the_emulator_window(fake_clock: FakeClock) -> None:
    emu = SalesforceEmulator(daily_limit=10, allocation_window=60.0, clock=fake_clock)
    limiter = RateLimiter(10, 60.0, 5, clock=fake_clock, sleep=fake_clock.sleep)
    client = _client(emu, limiter=limiter)
    for i in range(25):
        await client.get_person(ids.person_ref(i))
    assert emu.core.window.violations == 0
    # the limiter waited out two windows instead of hitting the limit
    assert sum(fake_clock.slept) >= 120.0
    await client.aclose()


async def test_concurrency_stays_under_the_cap() -> None:
    emu = SalesforceEmulator(max_concurrent=6)
    emu.core.faults.slow_seconds = 0.005
    client = _client(emu, limiter=RateLimiter(10_000, 1.0, 5))
    await asyncio.gather(*(client.get_person(ids.person_ref(i)) for i in range(30)))
    assert emu.core.concurrency_violations == 0 and emu.core.peak_in_flight <= 5
    await client.aclose()


async def test_server_unavailable_is_retried_on_reads(
    emu: SalesforceEmulator, fake_clock: FakeClock
) -> None:
    client = _client(emu, fake_clock)
    await client.get_person(ids.person_ref(0))
    emu.core.faults.server_error_next = 2
    assert (await client.get_person(ids.person_ref(1))).ref == ids.person_ref(1)
    assert [r.status for r in emu.core.requests[-3:]] == [503, 503, 200]
    assert fake_clock.slept == [0.25 * 0.75, 0.5 * 0.75]
    await client.aclose()


async def test_malformed_query_surfaces_vendor_message(emu: SalesforceEmulator) -> None:
    client = _client(emu)
    with pytest.raises(InvalidRequest) as exc:
        await client.session.query_all("SELECT Emial FROM Lead")
    assert exc.value.code == "INVALID_FIELD" and "No such column 'Emial'" in exc.value.message
    with pytest.raises(InvalidRequest) as exc:
        await client.session.query_all("SELECT Id FROM Lead WHERE")
    assert exc.value.code == "MALFORMED_QUERY"
    await client.aclose()


async def test_limit_header_on_every_api_response(emu: SalesforceEmulator) -> None:
    client = _client(emu)
    await client.get_person(ids.person_ref(0))
    assert client.session.api_usage == (1, 15_000)
    await client.aclose()


@pytest.mark.parametrize("missing", sorted(ENV))
def test_from_env_names_the_missing_variable(missing: str) -> None:
    env = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(ConfigError) as exc:
        SalesforceClient.from_env(env)
    assert exc.value.variable == missing and missing in str(exc.value)


def test_from_env_reads_version_and_validates() -> None:
    client = SalesforceClient.from_env({**ENV, "SALESFORCE_API_VERSION": "v64.0"})
    assert (
        client.session.api_version == "v64.0"
        and client.http.base_url == ENV["SALESFORCE_LOGIN_URL"]
    )
    assert SalesforceClient.from_env(ENV).session.api_version == "v62.0"
    with pytest.raises(ConfigError) as exc:
        SalesforceClient.from_env({**ENV, "SALESFORCE_API_VERSION": "62"})
    assert exc.value.variable == "SALESFORCE_API_VERSION"
    with pytest.raises(ConfigError):
        SalesforceClient.from_env({**ENV, "SALESFORCE_LOGIN_URL": "http://plain.example"})


def test_two_emulators_from_the_seed_are_identical() -> None:
    a, b = SalesforceEmulator(), SalesforceEmulator()
    for obj in (
        "Lead",
        "Contact",
        "Campaign",
        "CampaignMember",
        "CampaignMemberStatus",
        "User",
        "Task",
    ):
        assert a.records(obj) == b.records(obj)
    assert a.records("Lead")[ids.person_id(0)]["Id"] == "00Q5e0000000000"
    assert ids.person_ref(4) == "salesforce:Contact:0035e0000000004"
    assert ids.list_ref(2) == "salesforce:Campaign:7015e0001000002"

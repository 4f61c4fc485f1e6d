"""HubSpot client vs emulator: auth, rate limits, retries, quota, config and escaping."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mopsgate.connectors.http import RateLimiter, RetryPolicy
from mopsgate.connectors.hubspot.auth import oauth_auth
from mopsgate.connectors.hubspot.client import HubSpotClient
from mopsgate.crm.errors import (
    AuthError,
    ConfigError,
    InvalidRequest,
    QuotaExceeded,
    ServerError,
)
from mopsgate.crm.records import PersonQuery, PersonUpdate
from mopsgate.sandbox.hubspot import HubSpotEmulator, ids, sandbox_client
from tests.support.clock import FakeClock


def make(
    clock: FakeClock | None = None, *, limit: int = 90, **kw: Any
) -> tuple[FakeClock, HubSpotEmulator, HubSpotClient]:
    clock = clock or FakeClock()
    emu = HubSpotEmulator(clock=clock)
    client = sandbox_client(
        emu,
        retry=RetryPolicy(sleep=clock.sleep, jitter=lambda: 0.5),
        limiter=RateLimiter(limit, 10.0, clock=clock, sleep=clock.sleep),
        search_limiter=RateLimiter(4, 1.0, clock=clock, sleep=clock.sleep),
        **kw,
    )
    return clock, emu, client


async def test_bad_token_is_auth_error_with_vendor_message() -> None:
    emu = HubSpotEmulator()
    client = sandbox_client(emu, access_token="pat-wrong")
    with pytest.raises(AuthError) as err:
        await client.get_person(ids.person_ref(0))
    assert "Authentication credentials not found" in err.value.message
    assert err.value.code == "INVALID_AUTHENTICATION"


async def test_expired_static_token_cannot_refresh() -> None:
    _, emu, client = make()
    emu.core.faults.expire_tokens = True
    with pytest.raises(AuthError) as err:
        await client.get_person(ids.person_ref(0))
    assert "cannot be refreshed" in err.value.message and "HUBSPOT_ACCESS_TOKEN" in str(err.value)
    assert len(emu.core.requests) == 1


async def test_oauth_token_expiry_mid_run_reauths_once() -> None:
    _, emu, client = make(oauth=True)
    assert (await client.get_person(ids.person_ref(0))).ref == ids.person_ref(0)
    emu.core.faults.expire_tokens = True
    people = await client.get_people([ids.person_ref(i) for i in range(5)])
    assert len(people) == 5
    assert len(emu.requests_to("/oauth/v1/token")) == 2  # first token + one refresh
    assert [r.status for r in emu.core.requests].count(401) == 1


async def test_oauth_bad_refresh_token_is_auth_error() -> None:
    emu = HubSpotEmulator()
    auth = oauth_auth(ids.SANDBOX_CLIENT_ID, "wrong", ids.SANDBOX_REFRESH_TOKEN)
    client = sandbox_client(emu, auth=auth)
    with pytest.raises(AuthError, match="refresh token"):
        await client.get_person(ids.person_ref(0))


async def test_429_is_retried_after_retry_after() -> None:
    clock, emu, client = make()
    emu.core.faults.rate_limit_next = 2
    person = await client.get_person(ids.person_ref(3))
    assert person.ref == ids.person_ref(3)
    assert [r.status for r in emu.core.requests] == [429, 429, 200]
    assert len(clock.slept) == 2 and all(d >= 1.0 for d in clock.slept)  # retries only


async def test_client_limiter_keeps_inside_the_window() -> None:
    _, emu, client = make()
    for i in range(250):
        await client.get_person(ids.person_ref(i))
    assert emu.window.violations == 0
    assert all(r.status == 200 for r in emu.core.requests)


async def test_without_client_limiter_the_emulator_answers_429_and_we_recover() -> None:
    clock, emu, client = make(limit=10_000)
    for i in range(130):
        await client.get_person(ids.person_ref(i))
    assert emu.window.violations > 0
    assert sum(r.status == 429 for r in emu.core.requests) == emu.window.violations
    assert all(d >= 1.0 for d in clock.slept)


async def test_search_limiter_keeps_inside_search_window() -> None:
    _, emu, client = make()
    for _ in range(25):
        await client.search_people(PersonQuery(company="Hooli"), limit=10)
    assert emu.search_window.violations == 0


async def test_5xx_retried_on_reads() -> None:
    _, emu, client = make()
    emu.core.faults.server_error_next = 2
    assert (await client.get_list(ids.list_ref(0))).name == "Newsletter - Monthly"
    assert [r.status for r in emu.core.requests] == [500, 500, 200]


async def test_5xx_exhausts_retries_then_raises() -> None:
    _, emu, client = make()
    emu.core.faults.server_error_next = 10
    with pytest.raises(ServerError, match="internal error"):
        await client.get_list(ids.list_ref(0))
    assert len(emu.core.requests) == client.http.retry.max_attempts


async def test_idempotent_writes_are_retried_on_5xx() -> None:
    """HubSpot's writes here set absolute values / set membership, so a replay is safe."""
    _, emu, client = make()
    emu.core.faults.server_error_next = 1
    [res] = await client.update_people(
        [PersonUpdate(ref=ids.person_ref(0), fields={"city": "Kyiv"})]
    )
    assert res.ok and [r.status for r in emu.core.requests] == [500, 200]


async def test_daily_quota_is_not_retried() -> None:
    _, emu, client = make()
    emu.daily_limit = 2
    await client.get_person(ids.person_ref(0))
    await client.get_person(ids.person_ref(1))
    with pytest.raises(QuotaExceeded, match="daily limit"):
        await client.get_person(ids.person_ref(2))
    assert len(emu.core.requests) == 3


def test_from_env() -> None:
    with pytest.raises(ConfigError) as err:
        HubSpotClient.from_env({})
    assert err.value.variable == "HUBSPOT_ACCESS_TOKEN"
    assert "HUBSPOT_ACCESS_TOKEN is not set" in str(err.value)
    with pytest.raises(ConfigError, match="HUBSPOT_CLIENT_ID"):
        HubSpotClient.from_env({"HUBSPOT_REFRESH_TOKEN": "r"})
    with pytest.raises(ValueError, match="HUBSPOT_API_FAMILY"):
        HubSpotClient.from_env({"HUBSPOT_ACCESS_TOKEN": "pat", "HUBSPOT_API_FAMILY": "v9"})
    client = HubSpotClient.from_env(
        {"HUBSPOT_ACCESS_TOKEN": "pat-na1-x", "HUBSPOT_API_FAMILY": "2026-03"}
    )
    assert client.http.base_url == "https://api.hubapi.com"
    assert client.session.paths.contacts == "/crm/objects/2026-03/contacts"


async def test_inputs_are_escaped_never_spliced() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"lists": [], "hasMore": False, "results": []})

    client = HubSpotClient("https://api.hubapi.com", "pat", transport=httpx.MockTransport(handler))
    await client.list_lists(name_contains="a&b=c/../?x")
    assert seen[-1].url.path == "/crm/v3/lists/search" and seen[-1].url.query == b""
    for bad in ("hubspot:list:1/../../owners", "hubspot:list:1?x=1", "hubspot:list:%2e"):
        with pytest.raises(InvalidRequest):
            await client.list_members(bad)
    with pytest.raises(InvalidRequest):
        await client.campaign_members("hubspot:campaign:../x")
    assert len(seen) == 1


async def test_2026_03_family_is_served() -> None:
    _, emu, client = make(api_family="2026-03")
    assert (await client.list_lists()).items
    assert (await client.list_members(ids.list_ref(1), limit=5)).items
    assert (await client.list_campaigns()).items
    assert await client.list_owners()
    paths = {r.path for r in emu.core.requests}
    assert not any(p.startswith(("/crm/v3", "/marketing/v3")) for p in paths)
    assert all(r.status == 200 for r in emu.core.requests)


async def test_concurrent_expiry_refreshes_once() -> None:
    """U-03: every call in flight meets the expired access token at once; one refresh serves
    them all (single flight), each call then succeeds once with the new token, no lockout."""
    import asyncio

    _, emu, client = make(oauth=True)
    await client.get_person(ids.person_ref(0))
    for token in list(emu.core.tokens):
        emu.core.tokens[token] = 0.0  # the access token has expired for everyone
    emu.core.faults.slow_seconds = 0.002
    emu.core.reset_log()
    people = await asyncio.gather(*(client.get_person(ids.person_ref(i)) for i in range(8)))
    assert [p.ref for p in people] == [ids.person_ref(i) for i in range(8)]
    assert len(emu.requests_to("/oauth/v1/token")) == 1
    statuses = [r.status for r in emu.core.requests if r.path != "/oauth/v1/token"]
    assert statuses.count(200) == 8 and set(statuses) <= {200, 401}
    await client.aclose()

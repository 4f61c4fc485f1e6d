"""Marketo client resilience: auth renewal, limits, retries, configuration."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mopsgate.connectors.http import RateLimiter, RetryPolicy
from mopsgate.connectors.marketo.client import MarketoClient
from mopsgate.crm.errors import (
    AuthError,
    ConfigError,
    QuotaExceeded,
    RateLimitError,
    ServerError,
)
from mopsgate.crm.records import PersonUpdate
from mopsgate.sandbox.marketo import MarketoEmulator, ids, sandbox_client
from mopsgate.sandbox.seed import seed_data
from tests.support.clock import FakeClock

SEED = seed_data()


@pytest.fixture
def clock(fake_clock: FakeClock) -> FakeClock:
    return fake_clock


@pytest.fixture
def emu(clock: FakeClock) -> MarketoEmulator:
    return MarketoEmulator(SEED, clock=clock)


def make(
    emu: MarketoEmulator, clock: FakeClock, limiter: RateLimiter | None = None, **kw: Any
) -> MarketoClient:
    return sandbox_client(
        emu,
        retry=RetryPolicy(sleep=clock.sleep, jitter=lambda: 0.5),
        limiter=limiter or RateLimiter(90, 20.0, 8, clock=clock, sleep=clock.sleep),
        **kw,
    )


def identity_calls(emu: MarketoEmulator) -> list[Any]:
    return emu.requests_to("/identity/oauth/token")


async def test_token_is_cached_and_renewed_once_on_expiry(
    emu: MarketoEmulator, clock: FakeClock
) -> None:
    client = make(emu, clock)
    await client.get_person(ids.lead_ref(1))
    await client.get_person(ids.lead_ref(2))
    assert len(identity_calls(emu)) == 1
    emu.core.faults.expire_tokens = True
    person = await client.get_person(ids.lead_ref(3))
    assert person.ref == ids.lead_ref(3)
    assert len(identity_calls(emu)) == 2
    statuses = [r.status for r in emu.requests_to(f"/lead/{ids.lead_id(3)}.json")]
    assert statuses == [200, 200]  # 602 arrives inside HTTP 200, then the retry succeeds


async def test_token_renewed_proactively_before_expiry(
    emu: MarketoEmulator, clock: FakeClock
) -> None:
    client = make(emu, clock, auth_clock=clock)
    await client.get_person(ids.lead_ref(1))
    clock.t += 3599 - 59  # fewer than 60 s left
    await client.get_person(ids.lead_ref(1))
    assert client.auth.token_requests == 2


async def test_bad_credentials_raise_auth_error(emu: MarketoEmulator, clock: FakeClock) -> None:
    client = MarketoClient(
        "http://marketo.sandbox",
        "sandbox",
        "wrong",
        transport=emu_transport(emu),
        retry=RetryPolicy(sleep=clock.sleep, jitter=lambda: 0.5),
    )
    with pytest.raises(AuthError) as err:
        await client.get_person(ids.lead_ref(1))
    assert err.value.message == "Bad client credentials"
    assert err.value.http_status == 401


def emu_transport(emu: MarketoEmulator) -> Any:
    return sandbox_client(emu).http.transport


async def test_rate_limit_errors_are_retried_after_the_window(
    emu: MarketoEmulator, clock: FakeClock
) -> None:
    client = make(emu, clock)
    emu.core.faults.rate_limit_next = 2
    person = await client.get_person(ids.lead_ref(1))
    assert person.ref == ids.lead_ref(1)
    assert clock.slept[-2:] == [20.0, 20.0]  # 606 asks to wait out the 20 s window


async def test_rate_limit_retried_even_for_trigger(emu: MarketoEmulator, clock: FakeClock) -> None:
    client = make(emu, clock)
    await client.get_person(ids.lead_ref(1))
    emu.core.faults.rate_limit_next = 1
    results = await client.trigger_campaign(ids.smart_campaign_ref(2), [ids.lead_ref(1)], {})
    assert results[0].ok and len(emu.triggered) == 1


async def test_persistent_rate_limit_surfaces_typed_error(
    emu: MarketoEmulator, clock: FakeClock
) -> None:
    client = make(emu, clock)
    await client.get_person(ids.lead_ref(1))
    emu.core.faults.rate_limit_next = 10
    with pytest.raises(RateLimitError) as err:
        await client.get_person(ids.lead_ref(1))
    assert err.value.code == "606" and "Max rate limit" in err.value.message


async def test_client_limiter_keeps_inside_the_window(
    emu: MarketoEmulator, clock: FakeClock
) -> None:
    client = make(emu, clock)
    await asyncio.gather(*(client.get_person(ids.lead_ref(i % 50)) for i in range(260)))
    assert emu.core.window.violations == 0
    assert emu.core.peak_in_flight <= 8
    assert emu.core.concurrency_violations == 0


async def test_without_client_pacing_the_vendor_limit_bites_and_is_retried(
    emu: MarketoEmulator, clock: FakeClock
) -> None:
    client = make(emu, clock, limiter=RateLimiter(10_000, 20.0, 1, clock=clock, sleep=clock.sleep))
    for i in range(120):
        await client.get_person(ids.lead_ref(i))
    assert emu.core.window.violations > 0
    assert 20.0 in clock.slept


async def test_server_errors_retried_on_reads(emu: MarketoEmulator, clock: FakeClock) -> None:
    client = make(emu, clock)
    emu.core.faults.server_error_next = 2
    assert (await client.get_person(ids.lead_ref(1))).ref == ids.lead_ref(1)
    assert [r.status for r in emu.requests_to(f"/lead/{ids.lead_id(1)}.json")] == [502, 502, 200]


async def test_server_error_not_retried_on_trigger(emu: MarketoEmulator, clock: FakeClock) -> None:
    client = make(emu, clock)
    await client.get_person(ids.lead_ref(1))
    emu.core.faults.server_error_next = 1
    with pytest.raises(ServerError):
        await client.trigger_campaign(ids.smart_campaign_ref(2), [ids.lead_ref(1)], {})
    assert len(emu.requests_to("/trigger.json")) == 1
    assert emu.triggered == []


async def test_server_error_retried_on_idempotent_update(
    emu: MarketoEmulator, clock: FakeClock
) -> None:
    client = make(emu, clock)
    await client.get_person(ids.lead_ref(1))
    emu.core.faults.server_error_next = 1
    results = await client.update_people(
        [PersonUpdate(ref=ids.lead_ref(1), fields={"leadScore": 3})]
    )
    assert results[0].ok
    assert len(emu.requests_to("/rest/v1/leads.json", "POST")) == 2


async def test_daily_quota_is_not_retried(emu: MarketoEmulator, clock: FakeClock) -> None:
    client = make(emu, clock)
    emu.set_daily_quota(3)
    for i in range(3):
        await client.get_person(ids.lead_ref(i))
    with pytest.raises(QuotaExceeded) as err:
        await client.get_person(ids.lead_ref(9))
    assert err.value.code == "607"
    assert len(emu.requests_to(f"/lead/{ids.lead_id(9)}.json")) == 1


async def test_from_env_names_the_missing_variable() -> None:
    env = {"MARKETO_BASE_URL": "https://123-ABC-456.mktorest.com/rest", "MARKETO_CLIENT_ID": "abc"}
    with pytest.raises(ConfigError) as err:
        MarketoClient.from_env(env)
    assert err.value.variable == "MARKETO_CLIENT_SECRET"
    assert "MARKETO_CLIENT_SECRET is not set" in str(err.value)
    with pytest.raises(ConfigError) as err:
        MarketoClient.from_env({})
    assert err.value.variable == "MARKETO_BASE_URL"
    client = MarketoClient.from_env({**env, "MARKETO_CLIENT_SECRET": "s"})
    assert client.http.base_url == "https://123-ABC-456.mktorest.com"
    assert client.name == "marketo" and client.person_objects == ("lead",)
    assert client.capabilities.update_batch == 300
    await client.aclose()


async def test_unknown_path_is_marketo_610(emu: MarketoEmulator, clock: FakeClock) -> None:
    client = make(emu, clock)
    from mopsgate.crm.errors import NotFoundError

    with pytest.raises(NotFoundError) as err:
        await client.session.get("/rest/v1/nothing.json")
    assert err.value.code == "610"

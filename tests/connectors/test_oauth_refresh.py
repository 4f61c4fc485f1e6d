"""One token renewal however many calls need it: Marketo, Salesforce and HubSpot OAuth share
one session type with one refresh lock per client.

The emulators hold every request for a moment (``slow_seconds``), so the calls really are in
flight together when their token goes stale; without the lock each would fetch its own."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mopsgate.connectors.hubspot.auth import oauth_auth
from mopsgate.sandbox.hubspot import HubSpotEmulator
from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.sandbox.hubspot.connect import sandbox_client as hubspot_client
from mopsgate.sandbox.marketo import MarketoEmulator
from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.marketo.connect import sandbox_client as marketo_client
from mopsgate.sandbox.salesforce import SalesforceEmulator
from mopsgate.sandbox.salesforce import ids as sf
from mopsgate.sandbox.salesforce.connect import sandbox_client as salesforce_client
from mopsgate.sandbox.seed import seed_data

SEED = seed_data()
N = 8
TOKEN_PATHS = {
    "marketo": "/identity/oauth/token",
    "hubspot": "/oauth/v1/token",
    "salesforce": "/services/oauth2/token",
}


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def setup(vendor: str, clock: FakeClock) -> tuple[Any, Any, list[str]]:
    """(emulator, client, N person refs) with the client's token clock under test control."""
    if vendor == "marketo":
        emu: Any = MarketoEmulator(SEED)
        return emu, marketo_client(emu, auth_clock=clock), [mk.lead_ref(i) for i in range(N)]
    if vendor == "hubspot":
        emu = HubSpotEmulator(SEED)
        auth = oauth_auth(
            hs.SANDBOX_CLIENT_ID, hs.SANDBOX_CLIENT_SECRET, hs.SANDBOX_REFRESH_TOKEN, clock=clock
        )
        return emu, hubspot_client(emu, auth=auth), [hs.person_ref(i) for i in range(N)]
    emu = SalesforceEmulator(SEED)
    return emu, salesforce_client(emu), [sf.person_ref(i) for i in range(N)]


def token_requests(emu: Any, vendor: str) -> int:
    return len(emu.requests_to(TOKEN_PATHS[vendor]))


@pytest.mark.parametrize("vendor", sorted(TOKEN_PATHS))
async def test_concurrent_calls_refused_as_expired_renew_once(vendor: str) -> None:
    emu, client, refs = setup(vendor, FakeClock())
    await client.get_person(refs[0])
    assert token_requests(emu, vendor) == 1
    emu.core.expire_all_tokens()
    emu.core.faults.slow_seconds = 0.01
    people = await asyncio.gather(*(client.get_person(r) for r in refs))
    assert [p.ref for p in people] == refs
    assert token_requests(emu, vendor) == 2  # the first token and exactly one renewal
    assert client.auth.token_requests == 2
    await client.aclose()


@pytest.mark.parametrize("vendor", ["marketo", "hubspot"])
async def test_concurrent_calls_finding_the_token_due_renew_once(vendor: str) -> None:
    """Vendors that say when a token expires: it is renewed ahead of time, once."""
    clock = FakeClock()
    emu, client, refs = setup(vendor, clock)
    await client.get_person(refs[0])
    clock.t += 3600 + 1  # past any expires_in the emulators hand out
    emu.core.faults.slow_seconds = 0.01
    people = await asyncio.gather(*(client.get_person(r) for r in refs))
    assert [p.ref for p in people] == refs
    assert token_requests(emu, vendor) == 2
    assert [r.status for r in emu.core.requests].count(401) == 0  # renewed before, not after
    await client.aclose()

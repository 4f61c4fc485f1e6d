"""Secrets never leave through any surface (catalogue X-14, with L-10's credential canaries).

HubSpot runs as a production connector whose credentials are canaries: a client secret, a
refresh token and an access token the vendor (the emulator, in process) does not accept, so
every call meets the vendor's authentication errors and the refresh failing — the paths most
likely to echo a credential. The token-signing key is a canary too. None of them may appear in
the handshake, the tool list, any result or error, stderr, the database or its WAL.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mopsgate.connectors.http import in_process
from mopsgate.connectors.hubspot.paths import OAUTH_TOKEN
from mopsgate.sandbox.hubspot.connect import BASE_URL
from mopsgate.sandbox.hubspot.emulator import HubSpotEmulator
from mopsgate.server.app import INSTRUCTIONS, build_runtime, build_server
from mopsgate.server.settings import Settings, ensure_home
from tests.server.e2e_support import VENDORS
from tests.server.test_transports import PRODUCTION_MANIFEST

CREDENTIALS = {
    "HUBSPOT_CLIENT_ID": "canary-client-id-7f3a9e1d",
    "HUBSPOT_CLIENT_SECRET": "canary-client-secret-51c9e2d7",
    "HUBSPOT_REFRESH_TOKEN": "canary-refresh-token-b84d10c3",
    "HUBSPOT_ACCESS_TOKEN": "canary-access-token-0e77aa42",
}
HOST = "hubspot.sandbox"  # BASE_URL's host, allowed by the admin (connectors/hosts.py)
SIGNING_KEY = b"canary-signing-key-3b9f0c2d8e7a6f5b4c1d"


def _needles() -> list[str]:
    found = list(CREDENTIALS.values())
    found += [SIGNING_KEY.decode(), SIGNING_KEY.hex(), base64.b64encode(SIGNING_KEY).decode()]
    found += [base64.urlsafe_b64encode(SIGNING_KEY).decode().rstrip("=")]
    return found


def _leaks(text: str) -> list[str]:
    return [n for n in _needles() if n in text]


# The OAuth app's refresh (client secret and refresh token sent to the token endpoint), or a
# private-app token sent with every call: each refused by the vendor.
ENVS = {
    "oauth": {k: v for k, v in CREDENTIALS.items() if k != "HUBSPOT_ACCESS_TOKEN"},
    "private-app": {"HUBSPOT_ACCESS_TOKEN": CREDENTIALS["HUBSPOT_ACCESS_TOKEN"]},
}


@pytest.fixture(params=sorted(ENVS))
def production(request: Any, settings: Settings, manifest_path: Path) -> Any:
    tools = '["search_people", "get_person", "describe_fields", "api_budget", "list_lists"]'
    manifest_path.write_text(PRODUCTION_MANIFEST.replace('["search_people"]', tools))
    ensure_home(settings)
    settings.secret_path.write_bytes(SIGNING_KEY)
    emu = HubSpotEmulator()
    return build_runtime(
        settings,
        env={**ENVS[request.param], "HUBSPOT_BASE_URL": BASE_URL, "HUBSPOT_ALLOWED_HOSTS": HOST},
        emulators={"hubspot": emu},
        client_options={"transport": in_process(emu.app)},
    )


def _as(principal: str) -> Any:
    """A resolver that always names this principal."""
    return lambda _ctx: principal


async def test_vendor_credentials_and_the_signing_key_never_leave(
    production, settings: Settings, capfd
):
    hs = VENDORS["hubspot"]
    seen: list[str] = [INSTRUCTIONS]
    for principal in ("analyst", "mallory"):
        server = build_server(production, transport="memory", resolve_principal=_as(principal))
        async with Client(server, raise_exceptions=False) as client:
            seen += [repr(client.instructions), repr(client.server_info)]
            seen.append(repr((await client.list_tools()).tools))
            calls: list[tuple[str, dict[str, Any]]] = [
                ("whoami", {}),
                ("my_permissions", {}),
                ("get_person", {"ref": hs.ref(3)}),
                ("search_people", {"connector": "hubspot", "company": "Globex"}),
                ("api_budget", {"connector": "hubspot"}),
                ("list_lists", {"connector": "hubspot"}),
                ("describe_fields", {"connector": "hubspot", "object": "contact"}),
                (
                    "propose_update_person",
                    {"refs": [hs.ref(3)], "fields": {"jobtitle": "X"}, "reason": "canary run"},
                ),
                (
                    "apply_change",
                    {"change_id": "chg_0123456789ab", "confirmation_token": "mgc1.forged.forged"},
                ),
            ]
            for tool, args in calls:
                result = await client.call_tool(tool, args)
                seen.append(repr(result))
    errors = [s for s in seen if "is_error=True" in s]
    assert any("hubspot" in e.lower() for e in errors), "the credentials were never refused"
    emu = production.connectors.emulator("hubspot")
    refused = {(r.path, r.status) for r in emu.core.requests}
    assert (OAUTH_TOKEN, 400) in refused or ("/crm/v3/objects/contacts/search", 401) in refused
    assert _leaks("\n".join(seen)) == []
    out, err = capfd.readouterr()
    assert _leaks(out + err) == []
    stored = b"".join(p.read_bytes() for p in settings.home.glob("mopsgate.db*"))
    assert len(stored) > 0
    assert _leaks(stored.decode("utf-8", "replace")) == []
    assert SIGNING_KEY not in stored

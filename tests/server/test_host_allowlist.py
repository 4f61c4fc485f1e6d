"""Production connectors talk only to their vendor's hosts or those the admin adds (catalogue
I-12).

Base URLs come from the admin's environment, never from the assistant (the reference checks
of ``server/test_inputs.py`` cover that side); these tests attack the configuration and the
one URL a vendor hands back (Salesforce's ``instance_url``). Nothing is sent to a host outside
the list: not the credentials, not a read.
"""

from __future__ import annotations

import pytest
from mcp import Client

from mopsgate.connectors.hosts import allowed_hosts, host_allowed
from mopsgate.connectors.http import in_process
from mopsgate.crm.errors import ConfigError, HostNotAllowed
from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.sandbox.hubspot.emulator import HubSpotEmulator
from mopsgate.sandbox.salesforce import ids as sf
from mopsgate.sandbox.salesforce.emulator import SalesforceEmulator
from mopsgate.server.app import build_runtime, build_server
from mopsgate.server.settings import Settings
from tests.conftest import text_of
from tests.server.test_changes_kit import last_refusal
from tests.server.test_transports import PRODUCTION_MANIFEST, _serve

TOOLS = '["search_people", "get_person"]'


def _manifest(connector: str) -> str:
    return (
        PRODUCTION_MANIFEST.replace('["search_people"]', TOOLS)
        .replace("[connectors.hubspot]", f"[connectors.{connector}]")
        .replace('connectors = ["hubspot"]', f'connectors = ["{connector}"]')
    )


@pytest.mark.parametrize(
    "base_url",
    [
        "https://api.hubapi.com.evil.example",  # the documented host as a prefix
        "https://evil-hubapi.com",  # as a look-alike
        "https://169.254.169.254",  # the metadata service
    ],
)
def test_a_base_url_off_the_list_stops_start_up(settings: Settings, base_url: str):
    settings.manifest_path.write_text(_manifest("hubspot"))
    proc = _serve(
        settings,
        *("--transport", "stdio", "--principal", "analyst"),
        HUBSPOT_ACCESS_TOKEN="pat-na1-canary",
        HUBSPOT_BASE_URL=base_url,
    )
    host = base_url.removeprefix("https://")
    assert proc.returncode == 2, proc.stderr
    assert f"may not call {host}" in proc.stderr and "HUBSPOT_ALLOWED_HOSTS" in proc.stderr
    assert "pat-na1-canary" not in proc.stderr and proc.stdout == ""


async def test_a_salesforce_instance_url_off_the_list_is_never_called(connect, settings: Settings):
    """The login host is Salesforce's; the token answer names another host for every later
    call. The read is refused before anything is sent there, audited, and says who to ask."""
    settings.manifest_path.write_text(_manifest("salesforce"))
    emu = SalesforceEmulator(instance_url="https://evil.example")
    runtime = build_runtime(
        settings,
        env={
            "SALESFORCE_LOGIN_URL": "https://acme.my.salesforce.com",
            "SALESFORCE_CLIENT_ID": sf.SANDBOX_CLIENT_ID,
            "SALESFORCE_CLIENT_SECRET": sf.SANDBOX_CLIENT_SECRET,
        },
        emulators={"salesforce": emu},
        client_options={"transport": in_process(emu.app)},
    )
    server = build_server(runtime, transport="memory", resolve_principal=lambda _c: "analyst")
    async with Client(server) as client:
        result = await client.call_tool("get_person", {"ref": sf.person_ref(3)})
    text = text_of(result)
    assert result.is_error and "may not call evil.example" in text, text
    assert [r.path for r in emu.core.requests] == ["/services/oauth2/token"]
    row = last_refusal(settings, "get_person")
    assert row["error_code"] == "upstream_error" and row["principal"] == "analyst"


async def test_a_host_the_admin_adds_is_called_and_one_it_does_not_is_not(
    settings: Settings,
):
    settings.manifest_path.write_text(_manifest("hubspot"))
    env = {"HUBSPOT_ACCESS_TOKEN": hs.SANDBOX_TOKEN, "HUBSPOT_BASE_URL": "http://hubspot.sandbox"}
    emu = HubSpotEmulator()
    opts = {"transport": in_process(emu.app)}
    refused = build_runtime(settings, env=env, emulators={"hubspot": emu}, client_options=opts)
    with pytest.raises(HostNotAllowed):
        refused.connectors.check_production()
    runtime = build_runtime(
        settings,
        env={**env, "HUBSPOT_ALLOWED_HOSTS": " hubspot.sandbox , .other.example"},
        emulators={"hubspot": emu},
        client_options=opts,
    )
    person = await runtime.connectors.get("hubspot").get_person(hs.person_ref(3))
    assert person.ref == hs.person_ref(3)
    assert emu.core.requests and all(r.status == 200 for r in emu.core.requests)
    await runtime.connectors.aclose()


@pytest.mark.parametrize("entry", ["*", ".com", "*.example.com", "evil.example/path", "a b"])
def test_an_allowlist_entry_that_is_not_a_host_is_refused(entry: str):
    with pytest.raises(ConfigError) as exc:
        allowed_hosts("hubspot", {"HUBSPOT_ALLOWED_HOSTS": f"hubspot.sandbox,{entry}"})
    assert exc.value.variable == "HUBSPOT_ALLOWED_HOSTS"


@pytest.mark.parametrize(
    ("vendor", "host", "ok"),
    [
        ("marketo", "123-abc-456.mktorest.com", True),
        ("marketo", "mktorest.com.evil.example", False),
        ("hubspot", "api.hubapi.com", True),
        ("hubspot", "api-eu1.hubapi.com", True),
        ("hubspot", "evilhubapi.com", False),
        ("salesforce", "acme.my.salesforce.com", True),
        ("salesforce", "acme--dev.sandbox.my.salesforce.com", True),
        ("salesforce", "salesforce.com.evil.example", False),
        ("salesforce", "api.hubapi.com", False),
    ],
)
def test_documented_hosts(vendor: str, host: str, ok: bool):
    assert host_allowed(host, allowed_hosts(vendor, {})) is ok

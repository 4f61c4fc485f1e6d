"""A vendor that cannot be reached (catalogue U-14): DNS failure, connection refused, a TLS
certificate that does not verify. The call fails with a clear upstream error after bounded
retries and is audited; and no connector has a switch that turns certificate checks off."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from mopsgate.server.app import build_runtime, build_server
from mopsgate.server.settings import Settings
from tests.conftest import text_of
from tests.server.test_changes_kit import last_refusal
from tests.server.test_transports import PRODUCTION_MANIFEST
from tests.support.no_wait import no_wait_retry

ROOT = Path(__file__).resolve().parents[2]
FAILURES = {
    "dns": httpx.ConnectError("[Errno -2] Name or service not known"),
    "refused": httpx.ConnectError("[Errno 111] Connection refused"),
    "tls": httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
    "connect-timeout": httpx.ConnectTimeout("timed out"),
}


class Unreachable(httpx.AsyncBaseTransport):
    def __init__(self, error: httpx.TransportError) -> None:
        self.error = error
        self.tries = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.tries += 1
        raise self.error


@pytest.mark.parametrize("failure", sorted(FAILURES))
async def test_an_unreachable_vendor_fails_the_call_and_it_is_audited(
    failure: str, settings: Settings
):
    from mcp import Client

    settings.manifest_path.write_text(PRODUCTION_MANIFEST)
    transport = Unreachable(FAILURES[failure])
    runtime = build_runtime(
        settings,
        env={"HUBSPOT_ACCESS_TOKEN": "pat-na1-00000000-0000-0000-0000-000000000000"},
        client_options={"transport": transport, "retry": no_wait_retry()},
    )
    server = build_server(runtime, transport="memory", resolve_principal=lambda _: "analyst")
    async with Client(server) as client:
        result = await client.call_tool(
            "search_people", {"connector": "hubspot", "email": "a@example.com"}
        )
    text = text_of(result)
    assert result.is_error and text.startswith("[upstream_error] hubspot"), text
    assert type(FAILURES[failure]).__name__ in text, text
    assert 1 <= transport.tries <= 4  # bounded retries
    row = last_refusal(settings, "search_people")
    assert (row["outcome"], row["error_code"]) == ("error", "upstream_error")


def test_no_connector_can_turn_certificate_checks_off():
    switches = re.compile(r"verify\s*=\s*(False|0|None)|CERT_NONE|check_hostname\s*=\s*False")
    found = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in (ROOT / "connectors").rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if switches.search(line)
    ]
    assert found == []

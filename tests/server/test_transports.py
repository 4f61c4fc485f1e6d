"""stdio and streamable HTTP as real clients meet them: a subprocess and a uvicorn server."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import httpx
import pytest
from mcp import Client

from mopsgate.server.settings import Settings
from tests.conftest import audit_rows, text_of
from tests.server.test_http_cases import TLS, Served, requests_server
from tests.support.cli_forks import cli_forks
from tests.support.stdio_serve import mopsgate_env, stdio_params
from tests.support.tokens import issue_token

_env = mopsgate_env  # the name other test modules import from here


def _serve(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``mopsgate serve`` to completion (for start-up refusals), from the state dir's parent;
    ``env``: variables set besides the manifest and the state directory. A process of its own,
    forked from the worker's fork server (``tests/support/cli_forks.py``): the console script's
    own start is ``test_stdio_serves_the_configured_principal``'s."""
    return cli_forks().run(
        ["serve", *args], mopsgate_env(settings, **env), cwd=settings.home.parent
    )


async def test_stdio_serves_the_configured_principal(settings: Settings):
    params = stdio_params(mopsgate_env(settings, MOPSGATE_PRINCIPAL="analyst"))
    async with Client(params) as client:
        result = await client.call_tool("whoami", {})
    assert result.structured_content["principal"] == "analyst"
    row = audit_rows(settings)[-1]
    assert (row["transport"], row["principal"], row["outcome"]) == ("stdio", "analyst", "ok")


def test_stdio_refuses_an_unknown_principal(settings: Settings):
    proc = _serve(settings, "--transport", "stdio", "--principal", "mallory")
    assert proc.returncode == 2
    assert "unknown principal 'mallory'" in proc.stderr
    assert proc.stdout == ""


def test_serve_refuses_an_invalid_manifest(settings: Settings):
    settings.manifest_path.write_text("version = 1\n[principals.x]\n")
    proc = _serve(settings, "--transport", "stdio", "--principal", "x")
    assert proc.returncode == 2
    assert "is not a valid manifest" in proc.stderr


def test_http_refuses_a_non_loopback_bind(settings: Settings):
    proc = _serve(settings, "--transport", "http", "--host", "0.0.0.0")  # noqa: S104
    assert proc.returncode == 2 and "not a loopback address" in proc.stderr


def _call(base: str, headers: dict[str, str]) -> httpx.Response:
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    return httpx.post(
        f"{base}/mcp",
        json=body,
        headers={"Accept": "application/json, text/event-stream", **headers},
        timeout=10,
        verify=TLS,
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The refusals share one server (as in test_http_cases.py); the calls below get their
    own, since they look at the audit rows of their own calls."""
    with requests_server(tmp_path_factory.mktemp("transports")) as server:
        yield server


def test_http_without_token_is_401(served: Served):
    response = _call(served.base, {})
    assert response.status_code == 401
    assert "Bearer" in response.headers["www-authenticate"]


def test_http_with_a_wrong_token_is_401(served: Served):
    assert _call(served.base, {"Authorization": "Bearer mgt_not-a-real-token"}).status_code == 401


def test_http_rejects_a_foreign_origin(served: Served):
    headers = {**served.auth("analyst"), "Origin": "http://evil.example"}
    assert _call(served.base, headers).status_code == 403


def test_http_rejects_a_foreign_host(served: Served):
    response = _call(served.base, {**served.auth("analyst"), "Host": "evil.example"})
    assert response.status_code == 421  # the SDK refuses a foreign Host; 400 is any bad request


async def test_http_token_maps_to_its_principal(http_base: str, settings: Settings):
    from mcp.client.streamable_http import streamable_http_client

    token = issue_token(settings, "analyst")
    import httpx2

    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(f"{http_base}/mcp", http_client=http)) as client,
    ):
        who = await client.call_tool("whoami", {})
        names = {t.name for t in (await client.list_tools()).tools}
    assert who.structured_content["principal"] == "analyst"
    assert "apply_change" not in names
    row = [r for r in audit_rows(settings) if r["tool"] == "whoami"][-1]
    assert (row["transport"], row["principal"]) == ("http", "analyst")


async def test_http_token_of_a_principal_no_longer_in_manifest(http_base, settings, manifest_path):
    from mcp.client.streamable_http import streamable_http_client

    token = issue_token(settings, "ghost")
    import httpx2

    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
        Client(streamable_http_client(f"{http_base}/mcp", http_client=http)) as client,
    ):
        result = await client.call_tool("whoami", {})
    assert result.is_error and "[unknown_principal]" in text_of(result)
    assert audit_rows(settings)[-1]["principal"] == "ghost"


PRODUCTION_MANIFEST = """
version = 1
[connectors.hubspot]
environment = "production"

[use_cases.reporting]
purpose = "read-only reporting"
risk_level = "medium"
review_date = 2027-05-01
[use_cases.reporting.owners]
risk = "Data Protection Officer"
business = "Head of Demand Gen"
technical = "MOPs Lead"
data = "Data Steward"
escalation = "oncall@example.com"

[principals.analyst]
use_cases = ["reporting"]

[[rules]]
id = "analyst-read"
effect = "allow"
principals = ["analyst"]
use_case = "reporting"
tools = ["search_people"]
connectors = ["hubspot"]
"""


def test_production_connector_without_credentials_stops_start_up(settings: Settings):
    settings.manifest_path.write_text(PRODUCTION_MANIFEST)
    proc = _serve(settings, "--transport", "stdio", "--principal", "analyst")
    assert proc.returncode == 2, proc.stderr
    assert "HUBSPOT_ACCESS_TOKEN is not set" in proc.stderr

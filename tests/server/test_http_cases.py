"""The HTTP transport against the catalogue's transport attacks (X-05, X-06, X-07, X-09, X-11,
X-12, X-16): each request is the attack as a client would send it, against a real server on a
free loopback port."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from mopsgate.server.app import Runtime, build_runtime
from mopsgate.server.http import build_http_app
from mopsgate.server.settings import Settings
from tests.conftest import REVIEWERS, ROOT, audit_rows
from tests.server.loopback import serving
from tests.server.test_http_sessions import INITIALIZE as INIT
from tests.support.reviewers import declare_keys
from tests.support.stdio_serve import mopsgate_env, raw_stdio
from tests.support.tokens import issue_token

ACCEPT = {"Accept": "application/json, text/event-stream"}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}
# One TLS context for every request of these tests: an httpx client made without one loads the
# CA bundle (28 ms of CPU), and the 200-request case below made 200 of them. Every request
# still opens its own client and connection; the servers here speak plain HTTP anyway.
TLS = httpx.create_ssl_context()


def _post(base: str, body: Any, headers: dict[str, str], path: str = "/mcp") -> httpx.Response:
    return httpx.post(
        f"{base}{path}", json=body, headers={**ACCEPT, **headers}, timeout=10, verify=TLS
    )


def _port(base: str) -> int:
    port = urlsplit(base).port
    assert port is not None
    return port


def _auth(settings: Settings, principal: str = "assistant") -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(settings, principal)}"}


@dataclass
class Served:
    """The server of the tests that only send requests and read the answers: its address, its
    settings (its audit log) and one token per principal."""

    base: str
    settings: Settings
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, principal: str) -> str:
        if principal not in self.tokens:
            self.tokens[principal] = issue_token(self.settings, principal)
        return self.tokens[principal]

    def auth(self, principal: str = "assistant") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(principal)}"}


@contextmanager
def requests_server(root: Path) -> Iterator[Served]:
    """One server (a runtime on a state directory in ``root``, uvicorn on a free port) for the
    tests of a module that send requests and make no tool call: a server each cost those tests
    most of their time (a runtime, a start, and a stop that waits out uvicorn's ticks). The
    tests that load the server, or call tools, keep one of their own (``http_base``)."""
    manifest = root / "permissions.toml"
    shutil.copy(ROOT / "permissions.toml", manifest)
    declare_keys(manifest, REVIEWERS)
    settings = Settings(manifest, root / "home", "memory", manifest_settle_seconds=0.0)
    runtime = build_runtime(settings, env={})

    def app(sock: socket.socket) -> Any:
        return build_http_app(runtime, "127.0.0.1", sock.getsockname()[1])

    with serving(app, lifespan="on") as base:
        yield Served(base, settings)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with requests_server(tmp_path_factory.mktemp("http-cases")) as server:
        yield server


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::1]"])
def test_loopback_host_names_are_accepted_without_an_origin(host: str, served: Served):
    """X-07: every name of the loopback interface, from a client that sends no Origin."""
    response = _post(served.base, INIT, {**served.auth(), "Host": f"{host}:{_port(served.base)}"})
    assert response.status_code == 200, response.text
    assert "mcp-session-id" in response.headers or "result" in response.text


@pytest.mark.parametrize(
    "headers",
    [{"Host": "evil.example"}, {"Host": "evil.example:80"}, {"Origin": "http://evil.example"}],
)
def test_dns_rebinding_is_refused_before_anything_runs(headers: dict[str, str], served: Served):
    """X-06: a foreign Host (421) or Origin (403) with a valid token; an initialize that a
    loopback Host would have answered 200."""
    response = _post(served.base, INIT, {**served.auth(), **headers})
    assert response.status_code == (403 if "Origin" in headers else 421), response.text
    assert not [r for r in audit_rows(served.settings) if r["kind"] == "tool_call"]


def test_a_token_in_the_query_string_is_not_a_credential(served: Served):
    """X-05: the bearer token in the URI (the spec's MUST NOT) authenticates nothing."""
    token = served.token("assistant")
    response = httpx.post(
        f"{served.base}/mcp",
        params={"access_token": token},
        json=INIT,
        headers=ACCEPT,
        timeout=10,
        verify=TLS,
    )
    assert response.status_code == 401


def test_a_cors_preflight_from_another_origin_is_not_granted(served: Served):
    """X-09: no wildcard, no reflected Origin, no credentials for a foreign page."""
    response = httpx.options(
        f"{served.base}/mcp",
        headers={
            "Origin": "http://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
        timeout=10,
        verify=TLS,
    )
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-credentials" not in response.headers


def test_a_huge_body_is_refused_and_the_server_still_answers(served: Served):
    """X-11 / I-04: a 5 MB request is refused before it becomes a call; others are served."""
    auth = served.auth()
    big = {**LIST, "params": {"pad": "x" * 5_000_000}}
    response = _post(served.base, big, auth)
    assert response.status_code == 413, response.status_code
    assert _post(served.base, INIT, auth).status_code == 200
    assert not [r for r in audit_rows(served.settings) if r["kind"] == "tool_call"]


def test_an_unsupported_protocol_version_header_is_400(served: Served):
    """X-12: after a 2025 handshake, a request claiming a protocol version nobody speaks."""
    auth = served.auth()
    init = _post(served.base, INIT, auth)
    session = {"Mcp-Session-Id": init.headers["mcp-session-id"]}
    response = _post(served.base, LIST, {**auth, **session, "MCP-Protocol-Version": "1999-01-01"})
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("path", ["/approve", "/review", "/api/approve", "/changes/approve"])
def test_no_approval_route_exists_over_http(path: str, served: Served):
    """X-16: the agent's bearer token on anything that looks like an approval endpoint."""
    body = {"change_id": "chg_0123456789ab", "reviewer": "mops-lead"}
    assert _post(served.base, body, served.auth(), path=path).status_code == 404


APPROVAL_WORDS = ("approve", "review", "reject", "decide", "sign")


def approves(name: str) -> bool:
    """A tool named with an approval word ('sign_change'), compared word by word: the
    substring would also match propose_reassign_owner ('reas-sign')."""
    return any(word.startswith(w) for word in name.split("_") for w in APPROVAL_WORDS)


async def test_no_principal_can_reach_an_approval_tool(
    connect, runtime: Runtime, settings: Settings
):
    """T-09 / X-16: no tool of the registry approves; for every principal of the manifest
    tools/list has none, and calling one by name is refused as unknown and audited."""
    assert not [n for n in runtime.specs if approves(n)]
    assert approves("approve_change") and approves("sign_decision") and approves("reviewer_ok")
    manifest, _ = await runtime.holder.current()
    for principal in sorted(manifest.principals):
        async with connect(principal) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert not [n for n in names if approves(n)], principal
            result = await client.call_tool(
                "approve_change", {"change_id": "chg_0123456789ab", "reviewer": "mops-lead"}
            )
            assert result.is_error and "no tool named 'approve_change'" in str(result.content)
    rows = [r for r in audit_rows(settings) if r["tool"] == "approve_change"]
    assert len(rows) == len(manifest.principals)
    assert {(r["outcome"], r["rule_id"]) for r in rows} == {("denied", "unknown-tool")}


INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
VERSION = {"MCP-Protocol-Version": "2025-11-25"}


def test_a_session_id_never_authenticates_by_itself(served: Served):
    """X-10: another principal (own valid token) presenting A's session id, no token at all,
    and a guessed id; the id is long and random."""
    owner, other = served.auth("assistant"), served.auth("analyst")
    session = _post(served.base, INIT, owner).headers["mcp-session-id"]
    assert len(session) >= 32
    mine = {"Mcp-Session-Id": session, **VERSION}
    assert _post(served.base, INITIALIZED, {**owner, **mine}).status_code == 202
    assert _post(served.base, LIST, {**other, **mine}).status_code == 404
    assert _post(served.base, LIST, mine).status_code == 401
    guessed = {"Mcp-Session-Id": secrets.token_hex(16), **VERSION}
    assert _post(served.base, LIST, {**owner, **guessed}).status_code == 404
    assert _post(served.base, LIST, {**owner, **mine}).status_code == 200


def _listening_sockets(pid: int) -> list[str]:
    """Inodes of this process's sockets in LISTEN state (TCP, IPv4 or IPv6)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    listening = []
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        for line in path.read_text().splitlines()[1:] if path.exists() else []:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                listening.append(fields[1])
    return listening


@pytest.mark.skipif(not Path("/proc/self/net/tcp").exists(), reason="needs Linux /proc")
async def test_stdio_opens_no_listening_socket(settings: Settings):
    """X-13: a stdio server, answering its client, listens on nothing."""
    env = mopsgate_env(settings, MOPSGATE_PRINCIPAL="analyst")
    log = settings.home.parent / "stderr.log"
    async with raw_stdio(env, cwd=settings.home.parent, log=log, kill=True) as rpc:
        answer = await rpc.open()
        assert answer["serverInfo"]["name"] == "mopsgate"
        assert _listening_sockets(rpc.proc.pid) == []


def test_slow_and_many_clients_do_not_starve_the_others(http_base: str, settings: Settings):
    """X-11: a hundred connections that send half a request and then nothing (slowloris),
    held open, and 200 requests at once: every one of the 200 gets an answer — served, or
    refused with 429/503 backpressure, never a hang or a 5xx crash — and a normal call made
    while the slow ones are still open is served. (How fast is bench/'s business.)"""
    from concurrent.futures import ThreadPoolExecutor

    auth = _auth(settings)
    port = _port(http_base)
    slow: list[socket.socket] = []
    try:
        for _ in range(100):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(
                b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + f"Authorization: {auth['Authorization']}\r\n".encode()
                + b'Content-Length: 100000\r\n\r\n{"jsonrpc": '
            )
            slow.append(s)
        with ThreadPoolExecutor(max_workers=50) as pool:
            codes = list(pool.map(lambda _: _post(http_base, INIT, auth).status_code, range(200)))
        assert set(codes) <= {200, 429, 503}, sorted(set(codes))
        other = _post(http_base, INIT, _auth(settings, "analyst"))
        assert other.status_code == 200, other.text  # another principal is served meanwhile
    finally:
        for s in slow:
            s.close()
    assert _post(http_base, INIT, auth).status_code == 200

"""HTTP sessions are bounded: idle ones expire, a principal has a cap, and hundreds of sessions
opened and abandoned leave a handful alive and the memory flat.

Found by a short client run that left 59 abandoned sessions open (the SDK's default idle timeout
is 30 minutes and nothing capped a principal). The app is driven in-process through ASGI, the
same Starlette app ``mopsgate serve --transport http`` runs, so hundreds of handshakes stay quick.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
from mcp import Client

from mopsgate.server.app import Runtime, build_server
from mopsgate.server.http import MCP_PATH, build_http_app
from mopsgate.server.http_sessions import SessionLimits
from mopsgate.server.settings import (
    HttpSessionSettings,
    Settings,
    ensure_home,
    load_http_session_settings,
)
from mopsgate.server.surface import McpSurface
from tests.conftest import audit_rows
from tests.support.cli_forks import cli_forks
from tests.support.stdio_serve import mopsgate_env
from tests.support.tokens import issue_token

HOST = b"127.0.0.1:8765"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "abandoner", "version": "1"},
    },
}


@dataclass
class Answer:
    status: int
    headers: dict[bytes, bytes] = field(default_factory=dict)
    body: bytes = b""

    @property
    def session_id(self) -> str:
        return self.headers[b"mcp-session-id"].decode()


class InProcessHttp:
    """Requests straight into the ASGI app: no sockets, but every layer of the real app."""

    def __init__(self, app: Any) -> None:
        self.app = app
        (endpoint,) = [r for r in app.app.routes if getattr(r, "path", None) == MCP_PATH]
        self.limits: SessionLimits = endpoint.app

    def live_sessions(self) -> int:
        return len(self.limits.sessions.live())

    async def request(
        self,
        token: str,
        body: dict[str, Any] | None,
        session_id: str | None = None,
        method: str = "POST",
    ) -> Answer:
        headers = [
            (b"host", HOST),
            (b"content-type", b"application/json"),
            (b"accept", b"application/json, text/event-stream"),
            (b"authorization", f"Bearer {token}".encode()),
        ]
        if session_id is not None:
            headers += [
                (b"mcp-session-id", session_id.encode()),
                (b"mcp-protocol-version", b"2025-11-25"),
            ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": MCP_PATH,
            "raw_path": MCP_PATH.encode(),
            "query_string": b"",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8765),
        }
        payload = json.dumps(body).encode() if body is not None else b""
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": payload, "more_body": False}
            await anyio.sleep_forever()  # the client never hangs up by itself
            raise AssertionError("unreachable")

        answer = Answer(0)

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer.status = message["status"]
                answer.headers = dict(message.get("headers", []))
            elif message["type"] == "http.response.body":
                answer.body += message.get("body", b"")

        await self.app(scope, receive, send)
        return answer

    async def open_session(self, token: str) -> Answer:
        answer = await self.request(token, INITIALIZE)
        assert answer.status == 200, answer
        return answer


@asynccontextmanager
async def serving(runtime: Runtime, limits: HttpSessionSettings) -> AsyncIterator[InProcessHttp]:
    app = build_http_app(runtime, "127.0.0.1", 8765, limits)
    starlette = app.app
    async with starlette.router.lifespan_context(starlette):
        yield InProcessHttp(app)


def _token(settings: Settings, principal: str) -> str:
    ensure_home(settings)
    return issue_token(settings, principal)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# Measured: an abandoned session holds about 36 kB without the cap (400 of them grew RSS by
# 14.4 MiB), and 600 or 2,000 of them grow it by 0.6 MiB with it. 500 sessions, 60 times the
# cap, keep a threefold margin under the bound without the cap and a tenfold one with it, at a
# quarter of the time 2,000 took.
SESSIONS = 500
RSS_GROWTH_BOUND = 6 * 1024 * 1024


async def test_abandoned_sessions_stay_bounded(runtime, settings):
    """Each of 500 clients initializes a session and walks away without a DELETE. Without the
    cap every session stays alive (about 36 kB each: some 18 MB); with it, the live count stays
    at the per-principal cap and the memory figure flat."""
    token = _token(settings, "analyst")
    limits = HttpSessionSettings(per_principal=8)
    async with serving(runtime, limits) as http:
        for _ in range(50):  # warm up: imports, caches, first allocations
            await http.open_session(token)
        gc.collect()
        before = _rss_bytes()
        most_alive = 0
        for i in range(SESSIONS):
            await http.open_session(token)
            if i % 100 == 0:
                most_alive = max(most_alive, http.live_sessions())
        await anyio.sleep(0.1)  # let the evicted sessions' tasks finish
        gc.collect()
        growth = _rss_bytes() - before
        alive = http.live_sessions()
    assert alive <= limits.per_principal and most_alive <= limits.per_principal
    assert growth < RSS_GROWTH_BOUND, f"RSS grew by {growth / 2**20:.1f} MiB"
    print(f"{SESSIONS} abandoned sessions: {alive} alive, RSS growth {growth / 2**20:.1f} MiB")


async def test_idle_sessions_expire_and_then_answer_404(runtime, settings):
    token = _token(settings, "analyst")
    async with serving(runtime, HttpSessionSettings(idle_seconds=0.3)) as http:
        session = (await http.open_session(token)).session_id
        assert http.live_sessions() == 1
        with anyio.fail_after(10):
            while http.live_sessions():
                await anyio.sleep(0.05)
        listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
        after = await http.request(token, listing, session_id=session)
    assert after.status == 404


async def test_cap_evicts_the_least_recently_used_idle_session(runtime, settings):
    token = _token(settings, "analyst")
    other = _token(settings, "assistant")
    async with serving(runtime, HttpSessionSettings(per_principal=2)) as http:
        others = (await http.open_session(other)).session_id
        first = (await http.open_session(token)).session_id
        second = (await http.open_session(token)).session_id
        ping = {"jsonrpc": "2.0", "id": 3, "method": "ping"}
        assert (await http.request(token, ping, session_id=first)).status == 200  # first: used
        third = (await http.open_session(token)).session_id  # evicts second, the idle LRU
        sessions = {"first": (token, first), "second": (token, second), "third": (token, third)}
        sessions["other"] = (other, others)
        answers = {
            name: await http.request(who, ping, session_id=sid)
            for name, (who, sid) in sessions.items()
        }
    assert {name: a.status for name, a in answers.items()} == {
        "first": 200,
        "second": 404,
        "third": 200,
        "other": 200,  # another principal's session is never touched
    }


async def test_cap_refuses_a_new_session_when_all_are_busy(runtime, settings):
    token = _token(settings, "analyst")
    async with serving(runtime, HttpSessionSettings(per_principal=1)) as http:
        session = (await http.open_session(token)).session_id
        async with anyio.create_task_group() as streams:
            # an open event stream (GET) keeps the session busy, like a connected client
            streams.start_soon(http.request, token, None, session, "GET")
            await anyio.sleep(0.2)
            refused = await http.request(token, INITIALIZE)
            streams.cancel_scope.cancel()
        assert http.live_sessions() == 1
    assert refused.status == 429
    body = json.loads(refused.body)
    assert body["error"] == "too_many_sessions"
    assert "MOPSGATE_HTTP_SESSIONS_PER_PRINCIPAL" in body["error_description"]
    assert not [r for r in audit_rows(settings) if r["kind"] == "tool_call"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [("MOPSGATE_HTTP_SESSIONS_PER_PRINCIPAL", "0"), ("MOPSGATE_HTTP_SESSION_IDLE_SECONDS", "x")],
)
def test_bad_session_settings_stop_start_up_with_their_name(settings, variable, value):
    proc = cli_forks().run(  # a process of its own: tests/support/cli_forks.py
        ["serve", "--transport", "http", "--port", "0"], mopsgate_env(settings, **{variable: value})
    )
    assert proc.returncode == 2
    assert variable in proc.stderr and "Traceback" not in proc.stderr


def test_session_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("MOPSGATE_HTTP_SESSION_IDLE_SECONDS", "120")
    monkeypatch.setenv("MOPSGATE_HTTP_SESSIONS_PER_PRINCIPAL", "4")
    monkeypatch.delenv("MOPSGATE_HTTP_MAX_SESSIONS", raising=False)
    assert load_http_session_settings() == HttpSessionSettings(120.0, 4, 1000)


async def test_a_closed_legacy_session_is_forgotten_by_the_pipeline(runtime):
    """Legacy sessions are remembered for tools/list_changed; an ended one must not stay in
    memory through that table (with 10,000 abandoned sessions it would hold them all)."""
    server = build_server(runtime, transport="memory", resolve_principal=lambda _ctx: "analyst")
    (surface,) = [m for m in server.middleware if isinstance(m, McpSurface)]
    for _ in range(3):
        async with Client(server, mode="legacy") as client:
            await client.list_tools()
            assert len(surface.legacy_sessions) == 1
    assert surface.legacy_sessions == {}

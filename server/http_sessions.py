"""Bounded HTTP sessions: idle expiry, a cap per principal, a cap in all.

The SDK closes a session once no request has been in flight for its idle timeout and refuses
new ones beyond a global maximum; mopsgate sets both (``HttpSessionSettings``). What the SDK
does not know is whose a session is, so this ASGI wrapper, around the ``/mcp`` endpoint and
after authentication, keeps a small ledger per session: its principal, requests in flight and
when it was last used. A principal opening a session beyond its cap first closes its own least
recently used *idle* session (no request in flight, no open event stream): a client that
crashed without saying goodbye is the usual owner of such a session, and it must not lock the
principal out until the idle timeout. If every session of the principal is busy, the new one
is refused with 429 rather than cutting off work in progress.

The SDK exposes neither its table of live sessions nor a way to close one from outside, so
``SdkSessions`` reaches for the session manager's private table in exactly one place and
checks at start-up that it is still there (``mcp`` is pinned below 3).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

log = logging.getLogger("mopsgate.http")

ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
SESSION_HEADER = b"mcp-session-id"
VERSION_HEADER = b"mcp-protocol-version"


class SdkSessions:
    """The live sessions of the SDK's session manager, and closing one of them."""

    def __init__(self, manager: StreamableHTTPSessionManager) -> None:
        table = getattr(manager, "_server_instances", None)
        if not isinstance(table, dict):
            raise RuntimeError(
                "this version of the mcp SDK keeps its HTTP sessions elsewhere; mopsgate "
                "cannot bound them per principal (see server/http_sessions.py)"
            )
        self._table: dict[str, Any] = table

    def live(self) -> Collection[str]:
        return self._table.keys()

    async def close(self, session_id: str) -> None:
        """Terminate the transport; the SDK then forgets the session (its id answers 404)."""
        transport = self._table.get(session_id)
        if transport is not None:
            await transport.terminate()


@dataclass
class _Use:
    principal: str
    in_flight: int = 0
    last_used: float = field(default_factory=time.monotonic)


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _opens_a_session(scope: dict[str, Any]) -> bool:
    """What the SDK turns into a new session: a POST without a session id in the handshake era
    (a 2026-era request names its version and never gets one)."""
    if scope.get("method") != "POST" or _header(scope, SESSION_HEADER) is not None:
        return False
    version = _header(scope, VERSION_HEADER)
    return version is None or version in HANDSHAKE_PROTOCOL_VERSIONS


def _too_many(principal: str, cap: int) -> bytes:
    return json.dumps(
        {
            "error": "too_many_sessions",
            "error_description": f"{principal} already has {cap} open MCP sessions, all busy; "
            "the limit per principal is MOPSGATE_HTTP_SESSIONS_PER_PRINCIPAL.",
            "what_to_do": "Close a session you no longer need (HTTP DELETE with its "
            "Mcp-Session-Id), or wait for one to finish, then connect again.",
        }
    ).encode()


class SessionLimits:
    """ASGI wrapper: see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        sessions: SdkSessions,
        per_principal: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.sessions = sessions
        self.per_principal = per_principal
        self.clock = clock
        self._uses: dict[str, _Use] = {}
        self._opening: dict[str, int] = {}

    def open_sessions(self, principal: str) -> int:
        return sum(1 for use in self._uses.values() if use.principal == principal)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        user = scope.get("user") if scope.get("type") == "http" else None
        if not isinstance(user, AuthenticatedUser):
            await self.app(scope, receive, send)  # refused by the auth check behind us
            return
        session_id = _header(scope, SESSION_HEADER)
        use = self._uses.get(session_id) if session_id is not None else None
        if use is not None:
            await self._serve(use, scope, receive, send)
        elif _opens_a_session(scope):
            await self._open(user.username, scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _serve(self, use: _Use, scope: Any, receive: Any, send: Any) -> None:
        use.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            use.in_flight -= 1
            use.last_used = self.clock()

    async def _open(self, principal: str, scope: Any, receive: Any, send: Any) -> None:
        self._forget_ended()
        if not await self._make_room(principal):
            await _respond(send, 429, _too_many(principal, self.per_principal))
            return
        self._opening[principal] = self._opening.get(principal, 0) + 1
        opened: list[_Use] = []

        async def watch(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                for key, value in message.get("headers", ()):
                    if key == SESSION_HEADER:
                        use = _Use(principal, in_flight=1)
                        self._uses[bytes(value).decode("latin-1")] = use
                        opened.append(use)
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            self._opening[principal] -= 1
            if not self._opening[principal]:
                del self._opening[principal]
            for use in opened:
                use.in_flight -= 1
                use.last_used = self.clock()

    def _forget_ended(self) -> None:
        """Drop ledger entries of sessions the SDK has closed (idle, deleted, evicted)."""
        live = self.sessions.live()
        for session_id in [s for s in self._uses if s not in live]:
            del self._uses[session_id]

    async def _make_room(self, principal: str) -> bool:
        """Close the principal's least recently used idle sessions until one more fits; False
        when that is impossible because all of them are busy."""
        mine = [(u.last_used, s) for s, u in self._uses.items() if u.principal == principal]
        excess = len(mine) + self._opening.get(principal, 0) + 1 - self.per_principal
        if excess <= 0:
            return True
        idle = sorted(item for item in mine if self._uses[item[1]].in_flight == 0)
        if len(idle) < excess:
            return False
        for _, session_id in idle[:excess]:
            del self._uses[session_id]
            log.info("closing idle HTTP session of %s: over its session limit", principal)
            await self.sessions.close(session_id)
        return True


async def _respond(send: Any, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

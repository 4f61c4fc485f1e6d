"""The console's outer walls: one middleware, applied to every response and request.

* Response headers: a Content-Security-Policy that allows scripts, styles and connections from
  the console's own origin only (no inline script, nothing from other hosts, no framing), and
  the usual companions (nosniff, no referrer, no caching of pages that show PII).
* Requests: the Host must be the console's own (DNS-rebinding protection); a state-changing
  request whose Origin is another site is refused (CSRF, belt to the token's braces); and any
  request carrying an ``Authorization`` header is refused — the console never accepts MCP bearer
  tokens, so nothing an assistant holds can act here.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ConsoleWalls:
    def __init__(self, app: ASGIApp, *, origin: str, hosts: Iterable[str]) -> None:
        self.app = app
        self.origin = origin
        self.hosts = frozenset(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            status, text = refusal
            await PlainTextResponse(text, status, headers={"cache-control": "no-store"})(
                scope, receive, send
            )
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        headers = Headers(scope=scope)
        if headers.get("host", "") not in self.hosts:
            return 400, "Invalid host header: open the console at " + self.origin
        if "authorization" in headers:
            return 401, (
                "The review console does not accept bearer tokens (they are MCP credentials). "
                "Log in with your passkey at " + self.origin + "/login"
            )
        origin = headers.get("origin")
        if scope["method"] not in SAFE_METHODS and origin is not None and origin != self.origin:
            return 403, "Cross-site request refused."
        return None

"""Marketo's front door, before any route: the ``_method=GET`` override and the two errors that
Marketo answers at the HTTP level.

Marketo lets a client POST any GET endpoint (a long query does not fit in a URL) with
``_method=GET``, in the query string or in a form body; the body may also be JSON (List
``ismember`` sends its ids that way). The override here turns such a request into the GET it
stands for: the form's fields join the query string (repeated keys stay repeated, as Marketo
reads ``fields=a&fields=b``), a JSON body stays the body. Every other error Marketo gives is an
HTTP 200 envelope; only a URI over 8 KiB (414) and a body over 1 MiB (413) are refused here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_URI = 8 * 1024
MAX_BODY = 1024 * 1024
FORM = "application/x-www-form-urlencoded"


class MethodOverride:
    """ASGI middleware: ``POST …?_method=GET`` (or ``_method=GET`` in a form body) → ``GET``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        if len(scope.get("raw_path") or scope["path"].encode()) + len(query) + 1 > MAX_URI:
            await PlainTextResponse("414 Request-URI Too Long", 414)(scope, receive, send)
            return
        if scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = await _read(receive)
        if len(body) > MAX_BODY:
            await PlainTextResponse("413 Request Entity Too Large", 413)(scope, receive, send)
            return
        params = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        form = _form(scope, body)
        override = [v for k, v in params + form if k == "_method"]
        if override and override[-1].upper() == "GET":
            kept = [(k, v) for k, v in params + form if k != "_method"]
            scope = {**scope, "method": "GET", "query_string": urlencode(kept).encode()}
            if form:
                body = b""
        await self.app(scope, _replay(body, receive), send)


def _form(scope: Scope, body: bytes) -> list[tuple[str, str]]:
    headers = dict(scope.get("headers") or [])
    content_type = headers.get(b"content-type", b"").decode("latin-1")
    if not content_type.startswith(FORM):
        return []
    return parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)


async def _read(receive: Receive) -> bytes:
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = [False]

    async def replay() -> Message:
        if sent[0]:
            return await receive()
        sent[0] = True
        message: dict[str, Any] = {"type": "http.request", "body": body, "more_body": False}
        return message

    return replay

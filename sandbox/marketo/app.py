"""HTTP plumbing of the Marketo emulator: routing, the ``success``/``errors`` envelope, auth,
limits and fault injection, shared by every endpoint.

Marketo answers business errors with HTTP 200 and a quoted 6xx/7xx/1xxx code; the checks run in
the order Marketo applies them (limits, auth, quota), and identity calls are free of limits.
"""

from __future__ import annotations

import base64
import bisect
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from mopsgate.sandbox.emulator_base import EmulatorCore
from mopsgate.sandbox.marketo.ids import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from mopsgate.sandbox.marketo.state import MarketoState, MktoError

MAX_BATCH = 300


@dataclass
class Ctx:
    request: Request
    groups: tuple[str, ...]
    body: Any
    state: MarketoState

    def q(self, name: str, default: str | None = None) -> str | None:
        return self.request.query_params.get(name, default)

    def csv(self, name: str) -> list[str]:
        raw = self.request.query_params.getlist(name)
        return [v for item in raw for v in item.split(",") if v.strip()]

    def batch_size(self, cap: int = MAX_BATCH, default: int = MAX_BATCH) -> int:
        raw = self.q("batchSize") or self.q("maxReturn")
        if raw is None:
            return default
        if not raw.isdigit() or not 0 < int(raw) <= cap:
            raise MktoError("1003", f"Invalid batch size '{raw}' (1..{cap})")
        return int(raw)

    def int_group(self, i: int = 0) -> int:
        raw = self.groups[i]
        if not raw.isdigit():
            raise MktoError("1003", f"Invalid id '{raw}'")
        return int(raw)


Handler = Callable[[Ctx], Awaitable[dict[str, Any]]]


def encode_token(n: int) -> str:
    """Opaque, base32-looking paging token (Marketo's look), carrying a position."""
    return base64.b32encode(f"mkto:{n}".encode()).decode().rstrip("=")


def decode_token(token: str) -> int:
    try:
        padded = token + "=" * (-len(token) % 8)
        text = base64.b32decode(padded.encode()).decode()
        prefix, _, num = text.partition(":")
        if prefix != "mkto" or not num.isdigit():
            raise ValueError(text)
        return int(num)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MktoError("1003", "Invalid next page token") from exc


def page_after(sorted_ids: list[int], ctx: Ctx, batch: int) -> dict[str, Any]:
    """Keyset paging over ids: stable when records are added or removed between pages."""
    token = ctx.q("nextPageToken")
    start = bisect.bisect_right(sorted_ids, decode_token(token)) if token else 0
    chunk = sorted_ids[start : start + batch]
    more = start + batch < len(sorted_ids)
    out: dict[str, Any] = {"ids": chunk, "moreResult": more}
    if more and chunk:
        out["nextPageToken"] = encode_token(chunk[-1])
    return out


class Router:
    """Regex routes over ``METHOD path``; unknown paths answer Marketo's 610."""

    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler, bool]] = []

    def add(self, method: str, pattern: str, handler: Handler, *, write: bool = False) -> None:
        self.routes.append((method, re.compile(pattern + r"\Z"), handler, write))

    def match(self, method: str, path: str) -> tuple[Handler, tuple[str, ...], bool] | None:
        for m, rx, handler, write in self.routes:
            found = rx.match(path)
            if found and m == method:
                return handler, found.groups(), write
        return None


class Gate:
    """Everything that happens to a REST call before its handler runs."""

    def __init__(self, core: EmulatorCore, state: MarketoState, router: Router) -> None:
        self.core = core
        self.state = state
        self.router = router
        self.daily_quota = 50_000
        self.daily_used = 0
        self._seq = 0
        self._current_token: str | None = None

    def request_id(self) -> str:
        self._seq += 1
        return f"{self._seq % 0xFFFF:04x}#{self._seq:011x}"

    def envelope(self, payload: dict[str, Any], status: int = 200) -> JSONResponse:
        return JSONResponse(
            {"requestId": self.request_id(), "success": True, **payload}, status_code=status
        )

    def failure(self, code: str, message: str, status: int = 200) -> JSONResponse:
        return JSONResponse(
            {
                "requestId": self.request_id(),
                "success": False,
                "errors": [{"code": code, "message": message}],
            },
            status_code=status,
        )

    async def __call__(self, request: Request) -> Response:
        self.core.enter()
        try:
            await self.core.delay()
            response = await self._handle(request)
        finally:
            self.core.leave()
        self.core.log(
            request.method,
            request.url.path,
            request.url.query,
            response.status_code,
            int(request.headers.get("content-length") or 0),
        )
        return response

    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        if path == "/identity/oauth/token":
            return await self._identity(request)
        refusal = self._limits_and_auth(request)
        if refusal is not None:
            return refusal
        matched = self.router.match(request.method, path)
        if matched is None:
            return self.failure("610", "Requested resource not found", 404)
        handler, groups, write = matched
        if write and self.core.write_should_fail():
            return self.failure("611", "System error")
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            return self.failure("609", "Invalid JSON")
        try:
            payload = await handler(Ctx(request, groups, body, self.state))
        except MktoError as err:
            return self.failure(err.code, err.message)
        if write:
            self.core.successful_writes += 1
        return self.envelope(payload)

    def _limits_and_auth(self, request: Request) -> Response | None:
        core = self.core
        if not core.window.hit() or core.faults.take_rate_limit():
            return self.failure("606", "Max rate limit '100' exceeded with in '20' secs")
        if core.max_concurrent is not None and core.in_flight > core.max_concurrent:
            return self.failure("615", "Concurrent access limit reached")
        auth_state = core.token_state(request.headers.get("authorization"))
        if auth_state == "missing":
            return self.failure("600", "Access token not specified")
        if auth_state != "ok":
            code, text = ("602", "expired") if auth_state == "expired" else ("601", "invalid")
            return self.failure(code, f"Access token {text}")
        if self.daily_used >= self.daily_quota:
            return self.failure("607", "Daily quota reached")
        self.daily_used += 1
        if core.faults.take_server_error():
            return PlainTextResponse("<html>502 Bad Gateway</html>", status_code=502)
        return None

    async def _identity(self, request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "POST":
            params.update({k: str(v) for k, v in (await request.form()).items()})
        if params.get("grant_type") != "client_credentials":
            return JSONResponse(
                {
                    "error": "invalid_request",
                    "error_description": "grant_type must be client_credentials",
                },
                status_code=400,
            )
        if (params.get("client_id"), params.get("client_secret")) != (
            SANDBOX_CLIENT_ID,
            SANDBOX_CLIENT_SECRET,
        ):
            return JSONResponse(
                {"error": "unauthorized", "error_description": "Bad client credentials"},
                status_code=401,
            )
        return JSONResponse(self._token_body())

    def _token_body(self) -> dict[str, Any]:
        """Same token while it is valid (with a smaller ``expires_in``), as Marketo does."""
        token = self._current_token
        expiry = self.core.tokens.get(token) if token else None
        if token is None or expiry is None or expiry <= time.monotonic():
            token, _ttl = self.core.issue_token()
            self._current_token = token
            expiry = self.core.tokens[token]
        remaining = max(0, int(expiry - time.monotonic()))
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": remaining,
            "scope": "api-user@sandbox.test",
        }

"""What the three emulators share: the gate every request passes, the request log, rate windows,
daily quotas and access tokens.

Every route of every emulator is a Starlette ``Route`` made by ``Gate.route``: the gate counts
concurrency, applies the injected delay, asks the vendor's ``Checks`` whether to refuse (auth,
limits, quota and faults, in the vendor's own order), runs the handler, lets the vendor stamp
its headers, and logs the request. Handlers only speak resource shapes. Tests assert on the log
(how many calls, which were writes) and switch faults on through ``core.faults``.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Literal, Protocol
from urllib.parse import unquote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Match, Route

from mopsgate.sandbox.drift import drifted
from mopsgate.sandbox.faults import Faults

Clock = Callable[[], float]
Handler = Callable[[Request], Awaitable[Response]]
TokenState = Literal["ok", "missing", "invalid", "expired"]
# A handler's outcome: its response, and whether it answered normally (False: a VendorAnswer).
Outcome = tuple[Response, bool]


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: str
    status: int
    at: float
    body_size: int = 0
    write: bool = False  # the route changes vendor data

    @property
    def is_write(self) -> bool:
        return self.write


class RateWindow:
    """Counts calls in a sliding window so the emulator enforces the vendor's published limit,
    and says what is left and when the next slot frees up (for vendors that report it)."""

    def __init__(self, max_calls: int, per_seconds: float, clock: Clock = time.monotonic) -> None:
        self.max_calls = max_calls
        self.per_seconds = per_seconds
        self._stamps: deque[float] = deque()
        self._clock = clock
        self.violations = 0

    def _trim(self) -> float:
        now = self._clock()
        while self._stamps and now - self._stamps[0] >= self.per_seconds:
            self._stamps.popleft()
        return now

    def hit(self) -> bool:
        """Record a call; False (and a counted violation) when it is over the limit."""
        now = self._trim()
        if len(self._stamps) >= self.max_calls:
            self.violations += 1
            return False
        self._stamps.append(now)
        return True

    def used(self) -> int:
        self._trim()
        return len(self._stamps)

    def remaining(self) -> int:
        return max(0, self.max_calls - self.used())

    def seconds_until_free(self) -> int:
        now = self._trim()
        if len(self._stamps) < self.max_calls:
            return 0
        return max(1, math.ceil(self.per_seconds - (now - self._stamps[0])))


@dataclass
class DailyQuota:
    """A daily call allocation (Marketo's 50,000, HubSpot's private-app daily limit)."""

    limit: int
    used: int = 0

    def take(self) -> bool:
        """Count a call; False when the allocation was already spent."""
        if self.used >= self.limit:
            return False
        self.used += 1
        return True


def request_line(request: Request) -> str:
    """``METHOD /path?query`` with the query decoded: what an aimed fault's key is found in."""
    return f"{request.method} {request.url.path}?{unquote_plus(request.url.query)}"


class Access(Enum):
    API = "api"  # the vendor's every check: auth, limits, quota, faults
    UNCOUNTED = "uncounted"  # authenticated, but free of the call allocation (versions)
    TOKEN = "token"  # noqa: S105 - the token endpoint: no auth, no limits, nothing stamped


class Checks(Protocol):
    """One vendor's pre-handler checks in its own order, and what it stamps on every answer."""

    def refuse(self, request: Request, access: Access, write: bool) -> Response | None: ...

    def stamp(self, request: Request, response: Response) -> None: ...


class Runner(Protocol):
    """Where a handler runs. In memory: right here, on the event loop. Over the persistent
    store: as one transaction on the store's thread (``persist.store.SandboxStore``)."""

    async def __call__(
        self, request: Request, run: Callable[[], Awaitable[Outcome]], write: bool
    ) -> Outcome: ...


async def on_loop(request: Request, run: Callable[[], Awaitable[Outcome]], write: bool) -> Outcome:
    return await run()


class VendorAnswer(Exception):
    """Raised by a handler (or the vendor's rules under it) to answer with a vendor-shaped error;
    the gate sends ``response`` and does not count the call as a successful write."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class EmulatorCore:
    """The request log, concurrency accounting, rate window, faults and access tokens."""

    def __init__(
        self, vendor: str, window: RateWindow, *, max_concurrent: int | None = None
    ) -> None:
        self.vendor = vendor
        self.requests: list[LoggedRequest] = []
        self.faults = Faults()
        self.window = window
        self.max_concurrent = max_concurrent
        self.in_flight = 0
        self.peak_in_flight = 0
        self.concurrency_violations = 0
        self.tokens: dict[str, float] = {}  # token -> expiry (monotonic)
        self.token_ttl = 3600.0
        self.successful_writes = 0

    # tokens -------------------------------------------------------------------------------
    def issue_token(self) -> tuple[str, int]:
        token = secrets.token_urlsafe(24)
        self.tokens[token] = time.monotonic() + self.token_ttl
        return token, int(self.token_ttl)

    def token_state(self, header: str | None) -> TokenState:
        """The state of the token in an ``Authorization: Bearer`` header."""
        if not header or not header.startswith("Bearer "):
            return "missing"
        token = header[7:]
        expiry = self.tokens.get(token)
        if expiry is None:
            return "invalid"
        if expiry < time.monotonic() or self.faults.take_expired_token():
            self.tokens[token] = 0.0  # stays known, and expired, like a vendor's old token
            return "expired"
        return "ok"

    def expire_all_tokens(self) -> None:
        """Every token issued so far is expired from now on: every call in flight with one is
        refused as expired, however many there are."""
        self.tokens = dict.fromkeys(self.tokens, 0.0)

    # accounting ---------------------------------------------------------------------------
    def enter(self) -> None:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        if self.max_concurrent is not None and self.in_flight > self.max_concurrent:
            self.concurrency_violations += 1

    def over_concurrency(self) -> bool:
        return self.max_concurrent is not None and self.in_flight > self.max_concurrent

    def leave(self) -> None:
        self.in_flight -= 1

    def write_should_fail(self) -> bool:
        limit = self.faults.fail_after_writes
        return limit is not None and self.successful_writes >= limit

    @property
    def write_requests(self) -> list[LoggedRequest]:
        return [r for r in self.requests if r.is_write]

    def requests_to(self, path_suffix: str, method: str | None = None) -> list[LoggedRequest]:
        """Logged requests whose path ends with ``path_suffix`` (and method, if given)."""
        return [
            r
            for r in self.requests
            if r.path.endswith(path_suffix) and (method is None or r.method == method)
        ]

    async def delay(self) -> None:
        if self.faults.slow_seconds:
            await asyncio.sleep(self.faults.slow_seconds)

    def reset_log(self) -> None:
        self.requests.clear()


ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """The methods another route of the app answers on this path (empty: no route has the
    path), so a vendor's fallback can say 405 rather than 404."""
    found: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.path != FALLBACK_PATH:
            match, _child = route.matches(request.scope)
            if match is Match.PARTIAL and route.methods:
                found |= route.methods - {"HEAD"}
    return sorted(found)


FALLBACK_PATH = "/{path:path}"
REDIRECT_HOST = "evil.example"  # where a ``redirect_on`` fault points


MALFORMED = {
    "html": ("<html><body>502 Bad Gateway</body></html>", "text/html"),
    "truncated": ('{"result": [{"id": 1, "email": "', "application/json"),
    "empty": ("", "application/json"),  # a 200 with no body where records belong
    "wrong_type": ('{"result": []}', "text/plain"),  # JSON a proxy relabelled
}
FORBIDDEN = {  # read by every vendor's error mapping: HubSpot's and Salesforce's shapes at once
    "message": "The integration user has no access to this field (field-level security)",
    "category": "MISSING_SCOPES",
    "errorCode": "INSUFFICIENT_ACCESS_OR_READONLY",
}


def _aimed_answer(faults: Faults, request: Request) -> Response | None:
    """The answer an aimed fault gives in place of the route's: a redirect to another host,
    a body that is not the vendor's JSON, the CRM's own permission refusal, a validation
    refusal, or an answer far too large."""
    line = request_line(request)
    if faults.take_redirect(line):
        return RedirectResponse(f"https://{REDIRECT_HOST}{request.url.path}", 302)
    if faults.take_malformed(line):
        body, ctype = MALFORMED[faults.malformed_kind]
        return Response(body, status_code=200, media_type=ctype)
    if faults.take_forbidden(line):
        return JSONResponse([FORBIDDEN] if "/services/" in line else FORBIDDEN, status_code=403)
    if faults.take_invalid(line):
        return _invalid(line, faults.invalid_message)
    if faults.take_huge(line):
        pad = "x" * max(0, faults.huge_bytes - 40)
        return Response(f'{{"result": [], "padding": "{pad}"}}', media_type="application/json")
    return None


def _invalid(line: str, message: str) -> Response:
    """A validation refusal as each vendor writes one: Salesforce's error array, Marketo's
    HTTP 200 ``success: false`` envelope, HubSpot's ``VALIDATION_ERROR``."""
    if "/services/" in line:
        return JSONResponse(
            [{"message": message, "errorCode": "FIELD_CUSTOM_VALIDATION_EXCEPTION"}], 400
        )
    if "/rest/" in line:
        return JSONResponse(
            {
                "requestId": "fault",
                "success": False,
                "errors": [{"code": "1003", "message": message}],
            }
        )
    return JSONResponse(
        {"status": "error", "message": message, "category": "VALIDATION_ERROR"}, status_code=400
    )


class Gate:
    """The one door of an emulator: makes each of its routes, all guarded alike."""

    def __init__(self, core: EmulatorCore, checks: Checks, runner: Runner = on_loop) -> None:
        self.core = core
        self.checks = checks
        self.runner = runner

    def route(
        self,
        path: str,
        handler: Handler,
        methods: Sequence[str] = ("GET",),
        *,
        write: bool = False,
        access: Access = Access.API,
    ) -> Route:
        async def endpoint(request: Request) -> Response:
            return await self._pass(request, handler, write, access)

        return Route(path, endpoint, methods=list(methods))

    def fallback(self, handler: Handler) -> Route:
        """The last route: any other path or method, checked like the API, answered by the
        vendor's 'not found'."""
        return self.route(FALLBACK_PATH, handler, ALL_METHODS)

    async def _after_write(self, request: Request, response: Response) -> Response:
        """The written answer, or the fault a test aimed at this instant: the data has changed
        whatever the caller is told."""
        faults, line = self.core.faults, request_line(request)
        if faults.after_write is not None:
            await faults.after_write()
        if faults.take_timeout_after(line):
            raise TimeoutError(f"{self.core.vendor} emulator: wrote, then no answer")
        if faults.take_error_after(line):
            return PlainTextResponse("<html>502 Bad Gateway</html>", status_code=502)
        return response

    async def _pass(
        self, request: Request, handler: Handler, write: bool, access: Access
    ) -> Response:
        core = self.core
        core.enter()
        status = 500
        try:
            await core.delay()
            if core.faults.take_timeout(request_line(request)):
                raise TimeoutError(f"{core.vendor} emulator: no answer (fault timeout_on)")
            response = self.checks.refuse(request, access, write)
            if response is None:
                response = _aimed_answer(core.faults, request)
            if response is None:

                async def run() -> Outcome:
                    try:
                        return await handler(request), True
                    except VendorAnswer as answer:
                        return answer.response, False

                runner = on_loop if access is Access.TOKEN else self.runner
                response, normal = await runner(request, run, write)
                if normal and core.faults.take_drift(request_line(request)):
                    response = drifted(response, core.faults.drift_kind)
                if normal and write and response.status_code < 300:
                    core.successful_writes += 1
                    response = await self._after_write(request, response)
            if access is not Access.TOKEN:
                self.checks.stamp(request, response)
            status = response.status_code
            return response
        finally:
            core.leave()
            core.requests.append(
                LoggedRequest(
                    request.method,
                    request.url.path,
                    request.url.query,
                    status,
                    time.monotonic(),
                    int(request.headers.get("content-length") or 0),
                    write,
                )
            )

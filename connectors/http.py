"""The one place each vendor client sends HTTP.

Every request goes through ``VendorHTTP.send``: the client-side rate limiter (stay inside the
vendor's published limits rather than discover them), auth headers, the vendor's error mapper,
and retries with capped exponential backoff and jitter. The sleep, the jitter source and the
clock are injectable so tests can run retry storms in milliseconds and assert exact behaviour.
Every attempt is counted (``crm/metering.py``) so the audit log can say what a tool call cost.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx

from mopsgate.connectors.hosts import allowed_hosts, check_host
from mopsgate.crm.errors import (
    MalformedResponse,
    TokenExpired,
    TransportFailure,
    VendorError,
)
from mopsgate.crm.metering import count_call

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


@dataclass
class RetryPolicy:
    max_attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 30.0  # never hold a call longer than this for one Retry-After
    jitter: Callable[[], float] = random.random
    sleep: Sleep = asyncio.sleep

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Full jitter on a capped exponential, but never less than the server asked for."""
        expo = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        delay = expo * (0.5 + self.jitter() / 2)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_retry_after))
        return float(delay)


class RateLimiter:
    """Sliding-window call limit plus a concurrency cap, e.g. Marketo's 100/20 s and 10 at once."""

    def __init__(
        self,
        max_calls: int,
        per_seconds: float,
        max_concurrent: int = 10,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.max_calls = max_calls
        self.per_seconds = per_seconds
        self._sem = asyncio.Semaphore(max_concurrent)
        self._stamps: deque[float] = deque()
        self._lock = asyncio.Lock()
        self._clock = clock
        self._sleep = sleep
        self.in_flight = 0
        self.peak_in_flight = 0

    async def _wait_window(self) -> None:
        async with self._lock:
            while True:
                now = self._clock()
                while self._stamps and now - self._stamps[0] >= self.per_seconds:
                    self._stamps.popleft()
                if len(self._stamps) < self.max_calls:
                    self._stamps.append(now)
                    return
                await self._sleep(self.per_seconds - (now - self._stamps[0]) + 0.001)

    async def __aenter__(self) -> RateLimiter:
        await self._sem.acquire()
        try:
            await self._wait_window()
        except BaseException:
            self._sem.release()
            raise
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.in_flight -= 1
        self._sem.release()


class Auth(Protocol):
    """Supplies auth headers; ``refresh`` is called once when the vendor refuses the headers in
    ``rejected`` as expired (another call may have replaced them already)."""

    async def headers(self, http: VendorHTTP) -> dict[str, str]: ...

    async def refresh(self, http: VendorHTTP, rejected: Mapping[str, str]) -> None: ...


ErrorMapper = Callable[[httpx.Response, Any], VendorError | None]


def in_process(app: Any) -> httpx.AsyncBaseTransport:
    """A transport that hands requests to an ASGI app in this process (the sandbox emulators),
    so the client meets them through exactly the path it uses in production."""
    return _InProcess(httpx.ASGITransport(app=app))


class _InProcess(httpx.AsyncBaseTransport):
    """An app that gives no answer in time (raises ``TimeoutError``, e.g. an emulator's
    ``timeout_on`` fault) reaches the client as the network transport reports it: a read
    timeout, so timeouts are tested through the same path as in production."""

    def __init__(self, inner: httpx.ASGITransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._inner.handle_async_request(request)
        except TimeoutError as exc:
            raise httpx.ReadTimeout(str(exc), request=request) from exc

    async def aclose(self) -> None:
        await self._inner.aclose()


def _redirected(vendor: str, response: httpx.Response) -> MalformedResponse:
    """A 3xx is never followed (catalogue U-15): the credentials stay with the configured host,
    and a write answered with a redirect is not a write that happened."""
    where = urlsplit(response.headers.get("location", "")).hostname or "an unnamed location"
    return MalformedResponse(
        vendor,
        f"answered HTTP {response.status_code}, redirecting to {where}; mopsgate does not "
        "follow redirects",
        http_status=response.status_code,
    )


# Headers that describe the bytes on the wire, not the decoded body handed on.
_RAW = {"content-encoding", "content-length", "transfer-encoding"}


def restrict_hosts(http: VendorHTTP, env: Mapping[str, str]) -> None:
    """Make a production client refuse every host but its vendor's and the admin's; the
    configured base URL is checked now, so a wrong one stops start-up rather than a call."""
    http.allowed_hosts = allowed_hosts(http.vendor, env)
    check_host(http.vendor, urlsplit(http.base_url).hostname, http.allowed_hosts)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class VendorHTTP:
    vendor: str
    base_url: str
    error_mapper: ErrorMapper
    auth: Auth | None = None
    limiter: RateLimiter | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    transport: httpx.AsyncBaseTransport | None = None
    timeout: float = 30.0
    # Production clients: the only hosts a request may go to (``connectors.hosts``); None for
    # sandbox clients, whose emulators run in this process.
    allowed_hosts: tuple[str, ...] | None = None
    # The most one answer may hold, decoded; the largest real page (2,000 Salesforce records,
    # 300 Marketo leads with every field) is a few megabytes.
    max_body_bytes: int = 32 * 1024 * 1024
    calls: int = 0
    _client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                transport=self.transport,
                timeout=self.timeout,
                follow_redirects=False,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        authenticated: bool = True,
    ) -> Any:
        """Send one logical request; returns the parsed JSON body (or None for an empty body).

        ``idempotent=False`` (e.g. trigger a campaign) retries only errors the vendor raises
        *before* doing anything (rate limits, expired token), never 5xx or timeouts, because a
        repeat could send an email twice.
        """
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            auth = self.auth if authenticated else None
            sent = await auth.headers(self) if auth is not None else {}
            try:
                return await self._attempt(
                    method, url, params, json, data, {**(headers or {}), **sent}
                )
            except TokenExpired:
                if refreshed or auth is None:
                    raise
                refreshed = True
                await auth.refresh(self, sent)
                attempt -= 1  # a re-auth is not a retry
            except VendorError as exc:
                if not self._should_retry(exc, attempt, idempotent):
                    raise
                await self.retry.sleep(self.retry.backoff(attempt, exc.retry_after))

    def _should_retry(self, exc: VendorError, attempt: int, idempotent: bool) -> bool:
        from mopsgate.crm.errors import RateLimitError

        if attempt >= self.retry.max_attempts or not exc.retryable:
            return False
        if exc.retry_after is not None and exc.retry_after > self.retry.max_retry_after:
            return False
        return idempotent or isinstance(exc, RateLimitError)

    async def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        data: Mapping[str, str] | None,
        hdrs: dict[str, str],
    ) -> Any:
        limiter = self.limiter
        try:
            if limiter is not None:
                async with limiter:
                    response = await self._request(method, url, params, json, data, hdrs)
            else:
                response = await self._request(method, url, params, json, data, hdrs)
        except httpx.TimeoutException as exc:
            raise TransportFailure(self.vendor, f"timed out: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            raise TransportFailure(self.vendor, f"no answer: {type(exc).__name__}") from exc
        if 300 <= response.status_code < 400:
            raise _redirected(self.vendor, response)
        body = self._parse(response)
        error = self.error_mapper(response, body)
        if error is not None:
            raise error
        return body

    async def _request(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        data: Mapping[str, str] | None,
        headers: dict[str, str],
    ) -> httpx.Response:
        request = self.client.build_request(
            method, url, params=params, json=json, data=data, headers=headers
        )
        if self.allowed_hosts is not None:
            check_host(self.vendor, request.url.host, self.allowed_hosts)
        self.calls += 1
        count_call()
        response = await self.client.send(request, stream=True)
        try:
            body = await self._capped_body(response)
        finally:
            await response.aclose()
        kept = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _RAW]
        return httpx.Response(response.status_code, headers=kept, content=body, request=request)

    async def _capped_body(self, response: httpx.Response) -> bytes:
        """Read the (decoded) body in chunks and stop at ``max_body_bytes`` (catalogue U-13): a
        vendor or a proxy answering hundreds of megabytes, or a small body that inflates, costs
        at most the cap in memory and ends the call with a clear error."""
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_body_bytes:
                raise MalformedResponse(
                    self.vendor,
                    f"answered more than {self.max_body_bytes:,} bytes; mopsgate stops reading "
                    "there, so nothing of it was used",
                    http_status=response.status_code,
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _parse(self, response: httpx.Response) -> Any:
        if not response.content:
            if response.status_code in (200, 201):  # these vendors say "nothing" with a 204
                raise MalformedResponse(
                    self.vendor,
                    f"answered HTTP {response.status_code} with an empty body where JSON was "
                    "expected",
                    http_status=response.status_code,
                )
            return None
        ctype = response.headers.get("content-type", "")
        if "json" not in ctype:
            if response.status_code >= 500:
                return None  # let the mapper classify the status
            raise MalformedResponse(
                self.vendor,
                f"expected JSON, got {ctype or 'no type'}",
                http_status=response.status_code,
            )
        try:
            return response.json()
        except ValueError as exc:
            raise MalformedResponse(
                self.vendor, "response body is not valid JSON", http_status=response.status_code
            ) from exc

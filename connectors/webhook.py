"""The one place notifications leave over HTTP: one POST per attempt, never a retry here.

Retries belong to the outbox (durable, with backoff measured in minutes and surviving a
restart), so this only says what one attempt did. It never raises for the receiver's sake: a
dead, slow or rude receiver is a :class:`Delivery` that did not succeed, with a reason short
enough for a log line. Redirects are not followed (a webhook that moved is a configuration to
fix, and following one could carry the body somewhere unintended). The transport is injectable,
so tests use a local receiver or ``httpx.MockTransport`` and never the internet.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import JsonValue

if TYPE_CHECKING:
    import httpx

USER_AGENT = "mopsgate-notify/1"
DEFAULT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Delivery:
    ok: bool
    status: int | None  # None: no HTTP answer (refused, timed out, bad URL)
    detail: str
    elapsed_ms: float
    retry_after: float | None = None  # seconds the receiver asked to wait (429 / 503)


class WebhookSender:
    """POSTs JSON bodies with an Idempotency-Key; one client, reused, closed with
    :meth:`aclose`. The client (and httpx with it) is made at the first POST: every server
    makes a sender as it starts, and MCP clients wait for that start, while most manifests name
    no webhook at all."""

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._transport = transport
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=httpx.Timeout(self._timeout),
                follow_redirects=False,
                headers={"User-Agent": USER_AGENT},
            )
        return self._client

    async def post(
        self,
        url: str,
        body: Mapping[str, JsonValue],
        *,
        idempotency_key: str,
        event: str,
    ) -> Delivery:
        import httpx

        from mopsgate.connectors.http import parse_retry_after

        started = time.perf_counter()

        def done(ok: bool, status: int | None, detail: str, retry: float | None = None) -> Delivery:
            elapsed = round((time.perf_counter() - started) * 1000, 1)
            return Delivery(ok, status, detail, elapsed, retry)

        headers = {"Idempotency-Key": idempotency_key, "X-Mopsgate-Event": event}
        try:
            response = await self._http().post(url, json=dict(body), headers=headers)
        except httpx.TimeoutException:
            return done(False, None, "timed out")
        except httpx.InvalidURL:
            return done(False, None, "not a valid URL")
        except httpx.HTTPError as exc:
            return done(False, None, f"no answer ({type(exc).__name__})")
        status = response.status_code
        if 200 <= status < 300:
            return done(True, status, f"HTTP {status}")
        retry = parse_retry_after(response.headers.get("Retry-After"))
        return done(False, status, f"HTTP {status} from the receiver", retry)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

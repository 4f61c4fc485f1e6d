"""Shared plumbing of the HubSpot client: the one ``VendorHTTP`` chokepoint, id validation,
rate-limit header tracking, batch reads and the chunked-write policy."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from mopsgate.connectors.errors import InvalidRequest, VendorError
from mopsgate.connectors.http import Auth, RateLimiter, RetryPolicy, VendorHTTP
from mopsgate.connectors.hubspot import ids
from mopsgate.connectors.hubspot.errors import map_error
from mopsgate.connectors.hubspot.paths import ApiFamily, Paths
from mopsgate.connectors.model import RecordResult, parse_ref

BATCH_CAP = 100
DEFAULT_BASE_URL = "https://api.hubapi.com"
EXAMPLE_GUID = "5b8db455-eec0-5c3b-8450-59f57302466d"


def chunked(items: Sequence[str], size: int = BATCH_CAP) -> list[list[str]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


@dataclass
class RateHeaders:
    """The last ``X-HubSpot-RateLimit-*`` values seen on any response (api_budget)."""

    max: int | None = None
    remaining: int | None = None
    interval_ms: int | None = None
    daily: int | None = None
    daily_remaining: int | None = None

    def observe(self, headers: httpx.Headers) -> None:
        for attr, name in (
            ("max", "max"),
            ("remaining", "remaining"),
            ("interval_ms", "interval-milliseconds"),
            ("daily", "daily"),
            ("daily_remaining", "daily-remaining"),
        ):
            value = headers.get(f"x-hubspot-ratelimit-{name}")
            if value is not None and value.isdigit():
                setattr(self, attr, int(value))


ChunkCall = Callable[[list[str]], Awaitable[dict[str, RecordResult]]]


class HubSpotBase:
    name = ids.VENDOR
    person_objects: tuple[str, ...] = (ids.CONTACT,)
    batch_size = BATCH_CAP
    send_audiences_named = True

    def __init__(
        self,
        base_url: str,
        auth: Auth,
        *,
        api_family: ApiFamily = "v3",
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        search_limiter: RateLimiter | None = None,
    ) -> None:
        self.paths = Paths(api_family)
        self.rate = RateHeaders()
        # 90 per 10 s keeps a margin under the smallest published burst limit (100 / 10 s);
        # search has its own limit (4-5 per second per token).
        self.http = VendorHTTP(
            ids.VENDOR,
            base_url,
            self._observe,
            auth=auth,
            limiter=limiter or RateLimiter(90, 10.0, max_concurrent=10),
            retry=retry or RetryPolicy(),
            transport=transport,
        )
        self.search_limiter = search_limiter or RateLimiter(4, 1.0, max_concurrent=4)

    def _observe(self, response: httpx.Response, body: Any) -> VendorError | None:
        self.rate.observe(response.headers)
        return map_error(response, body)

    async def aclose(self) -> None:
        await self.http.aclose()

    # ids ----------------------------------------------------------------------------------
    @staticmethod
    def native_id(ref: str, obj: str) -> str:
        """The vendor id inside a ref, validated against HubSpot's id shape before it can
        reach a URL."""
        try:
            vendor, kind, native = parse_ref(ref)
        except ValueError as exc:
            raise InvalidRequest(ids.VENDOR, str(exc), code="invalid_ref") from exc
        shape = ids.GUID if obj == "campaign" else ids.NUMERIC_ID
        if vendor != ids.VENDOR or kind != obj or not shape.match(native):
            example = f"hubspot:{obj}:" + (EXAMPLE_GUID if obj == "campaign" else "1051")
            raise InvalidRequest(
                ids.VENDOR,
                f"{ref!r} is not a HubSpot {obj} reference (expected e.g. {example!r})",
                code="invalid_ref",
            )
        return native

    def split_refs(self, refs: Sequence[str]) -> tuple[dict[str, str], dict[str, RecordResult]]:
        """Valid contact refs → native id; invalid ones already answered per record."""
        valid: dict[str, str] = {}
        bad: dict[str, RecordResult] = {}
        for ref in refs:
            try:
                valid[ref] = self.native_id(ref, ids.CONTACT)
            except InvalidRequest as exc:
                bad[ref] = RecordResult(ref=ref, ok=False, code="invalid_ref", message=exc.message)
        return valid, bad

    # batch read ---------------------------------------------------------------------------
    async def batch_read(
        self, native_ids: Sequence[str], properties: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        """Records by id; ids HubSpot does not know (207 errors) are simply absent."""
        found: dict[str, dict[str, Any]] = {}
        for chunk in chunked(list(dict.fromkeys(native_ids))):
            body = await self.http.send(
                "POST",
                f"{self.paths.contacts}/batch/read",
                json={"properties": list(properties), "inputs": [{"id": i} for i in chunk]},
            )
            for record in (body or {}).get("results", []):
                found[str(record["id"])] = record
        return found

    # writes -------------------------------------------------------------------------------
    @staticmethod
    async def run_chunks(
        chunks: list[list[str]], call: ChunkCall, *, data_errors_per_record: bool
    ) -> dict[str, RecordResult]:
        """Send chunk after chunk. A failure before anything was written raises the typed
        error; after a partial apply every record still gets a result (the failed chunk with
        the error, later chunks as not attempted) so apply can record what happened. A 400
        about the data itself fails only its own chunk when ``data_errors_per_record``."""
        out: dict[str, RecordResult] = {}
        for n, chunk in enumerate(chunks):
            try:
                out.update(await call(chunk))
            except VendorError as exc:
                if isinstance(exc, InvalidRequest) and data_errors_per_record:
                    out.update(_failed(chunk, exc.code or "invalid", exc.message))
                    continue
                if n == 0:
                    raise
                out.update(_failed(chunk, exc.code or type(exc).__name__, exc.message))
                for rest in chunks[n + 1 :]:
                    out.update(
                        _failed(
                            rest,
                            "not_attempted",
                            f"not sent after an earlier batch failed: {exc.message}",
                        )
                    )
                break
        return out


def _failed(keys: list[str], code: str, message: str) -> dict[str, RecordResult]:
    return {k: RecordResult(ref=k, ok=False, code=code, message=message) for k in keys}


def errors_by_id(body: Any) -> dict[str, tuple[str, str]]:
    """207 ``errors[]`` → id → (category, message); ids sit in ``context.ids``."""
    out: dict[str, tuple[str, str]] = {}
    for err in (body or {}).get("errors", []) if isinstance(body, dict) else []:
        context = err.get("context") or {}
        for key in context.get("ids", []) or []:
            out[str(key)] = (str(err.get("category") or "error"), str(err.get("message") or ""))
        if err.get("id") is not None:
            out[str(err["id"])] = (
                str(err.get("category") or "error"),
                str(err.get("message") or ""),
            )
    return out

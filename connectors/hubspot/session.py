"""What every part of the HubSpot client shares: the one ``VendorHTTP`` chokepoint with the
configured path family, rate-limit header tracking, batch reads and the chunked-write policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from mopsgate.connectors.http import Auth, RateLimiter, RetryPolicy, VendorHTTP
from mopsgate.connectors.hubspot import ids
from mopsgate.connectors.hubspot.capabilities import CAPABILITIES
from mopsgate.connectors.hubspot.errors import map_error
from mopsgate.connectors.hubspot.paths import ApiFamily, Paths
from mopsgate.connectors.recent import Recent
from mopsgate.crm.errors import InvalidRequest, MalformedResponse, VendorError
from mopsgate.crm.records import RecordResult

BATCH_CAP = CAPABILITIES.update_batch
DEFAULT_BASE_URL = "https://api.hubapi.com"


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


class HubSpotSession:
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
        # contact id -> email ("" for none) from the latest read: what an apply's opt-outs
        # are keyed by (``connectors/recent.py``).
        self.emails: Recent[str, str] = Recent()
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

    def split_refs(self, refs: Sequence[str]) -> tuple[dict[str, str], dict[str, RecordResult]]:
        """Valid contact refs → native id; invalid ones already answered per record."""
        valid: dict[str, str] = {}
        bad: dict[str, RecordResult] = {}
        for ref in refs:
            try:
                valid[ref] = ids.native_id(ref, ids.CONTACT)
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
            answered: set[str] = set()
            for record in (body or {}).get("results", []):
                if record.get("id") in (None, ""):
                    raise MalformedResponse(ids.VENDOR, "answered a record without an id")
                key = str(record.get("id"))
                if key in answered:  # which of the two would a plan hold? neither (U-12)
                    raise MalformedResponse(ids.VENDOR, f"answered record {key} twice")
                answered.add(key)
                found[key] = record
        if "email" in properties:
            self.emails.put(
                {i: str((r.get("properties") or {}).get("email") or "") for i, r in found.items()}
            )
        return found


def offset_of(cursor: str | None) -> int:
    if not cursor:
        return 0
    if not cursor.isdigit():
        raise InvalidRequest(ids.VENDOR, f"invalid cursor {cursor!r}", code="invalid_cursor")
    return int(cursor)


def next_after(data: Any) -> str | None:
    nxt = ((data or {}).get("paging") or {}).get("next") or {}
    after = nxt.get("after")
    return str(after) if after else None

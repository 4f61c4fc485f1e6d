"""The one place HubSpot error answers become the typed error tree (``crm/errors.py``).

HubSpot says to treat every field of an error body as optional, so everything here falls back
to the HTTP status. 207 Multi-Status is *not* an error: its ``errors[]`` are record-level
outcomes, read by ``errors_by_id`` and reported per record, not raised.
"""

from __future__ import annotations

from typing import Any

import httpx

from mopsgate.connectors.http import parse_retry_after
from mopsgate.connectors.hubspot.ids import VENDOR
from mopsgate.connectors.hubspot.paths import OAUTH_TOKEN
from mopsgate.crm.errors import (
    AuthError,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFoundError,
    QuotaExceeded,
    RateLimitError,
    ServerError,
    TokenExpired,
    VendorError,
)


def map_error(response: httpx.Response, body: Any) -> VendorError | None:
    status = response.status_code
    if status < 400:
        return None
    data = body if isinstance(body, dict) else {}
    category = str(data.get("category") or data.get("errorType") or data.get("status") or "")
    message = str(data.get("message") or response.reason_phrase or f"HTTP {status}")
    kw: dict[str, Any] = {"http_status": status, "code": category or None}
    if response.request.url.path == OAUTH_TOKEN and status in (400, 401):
        return AuthError(VENDOR, message, **kw)
    if status == 401:
        if category == "EXPIRED_AUTHENTICATION":
            return TokenExpired(VENDOR, message, **kw)
        return AuthError(VENDOR, message, **kw)
    if status == 429:
        if data.get("policyName") == "DAILY":
            return QuotaExceeded(VENDOR, message, **kw)
        return RateLimitError(VENDOR, message, retry_after=_retry_after(response), **kw)
    if status >= 500:
        return ServerError(VENDOR, message, **kw)
    by_status: dict[int, type[VendorError]] = {
        400: InvalidRequest,
        403: Forbidden,
        404: NotFoundError,
        409: Conflict,
        422: InvalidRequest,
    }
    return by_status.get(status, VendorError)(VENDOR, message, **kw)


def _retry_after(response: httpx.Response) -> float | None:
    explicit = parse_retry_after(response.headers.get("Retry-After"))
    if explicit is not None:
        return explicit
    interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
    try:
        return float(interval) / 1000 if interval else None
    except ValueError:
        return None


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

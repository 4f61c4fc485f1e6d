"""Marketo's three error levels mapped onto the shared error tree (``crm/errors.py``), in
one place.

HTTP-level (401 from Identity, 413/414, 5xx from the gateway), response-level (HTTP 200 with
``success:false`` and a quoted code) and record-level (``status:"skipped"`` with ``reasons``).
The first two become typed exceptions here; record-level results are reported, not raised.
"""

from __future__ import annotations

from typing import Any

import httpx

from mopsgate.connectors.marketo.ids import VENDOR
from mopsgate.crm.errors import (
    AuthError,
    Forbidden,
    InvalidRequest,
    MalformedResponse,
    NotFoundError,
    QuotaExceeded,
    RateLimitError,
    ServerError,
    TokenExpired,
    VendorError,
)
from mopsgate.crm.records import RecordResult

RATE_WINDOW_SECONDS = 20.0

_TOKEN = {"601", "602"}
_AUTH = {"600"}
_FORBIDDEN = {"603"}
_RATE = {"606", "615"}
_QUOTA = {"607"}
_SERVER = {"604", "608", "611", "713", "502", "1014", "1016", "1019", "1022", "1029"}
_NOT_FOUND = {"610", "702", "1004", "1013"}

OK_STATUSES = frozenset({"created", "updated", "added", "removed", "deleted", "memberof"})


def _classify(code: str, message: str, http_status: int) -> VendorError:
    kw: dict[str, Any] = {"http_status": http_status, "code": code}
    if code in _TOKEN:
        return TokenExpired(VENDOR, message, **kw)
    if code in _AUTH:
        return AuthError(VENDOR, message, **kw)
    if code in _FORBIDDEN:
        return Forbidden(VENDOR, message, **kw)
    if code in _RATE:
        wait = RATE_WINDOW_SECONDS if code == "606" else None
        return RateLimitError(VENDOR, message, retry_after=wait, **kw)
    if code in _QUOTA:
        return QuotaExceeded(VENDOR, message, **kw)
    if code in _SERVER:
        return ServerError(VENDOR, message, **kw)
    if code in _NOT_FOUND:
        return NotFoundError(VENDOR, message, **kw)
    return InvalidRequest(VENDOR, message, **kw)


def map_error(response: httpx.Response, body: Any) -> VendorError | None:
    """The one mapper handed to ``VendorHTTP``: None when the call succeeded."""
    status = response.status_code
    if status >= 500:
        return ServerError(VENDOR, f"HTTP {status} from Marketo", http_status=status)
    if status >= 400 and not (isinstance(body, dict) and body.get("errors")):
        return _http_error(status, body)
    if not isinstance(body, dict):
        if status == 200 and body is None:
            return MalformedResponse(VENDOR, "empty response body", http_status=status)
        return None
    if body.get("success") is False:
        errors = body.get("errors") or [{}]
        first = errors[0] if isinstance(errors[0], dict) else {}
        code = str(first.get("code", "unknown"))
        return _classify(code, str(first.get("message", "request failed")), status)
    return None


def _http_error(status: int, body: Any) -> VendorError:
    detail = body if isinstance(body, dict) else {}
    message = str(detail.get("error_description") or detail.get("error") or f"HTTP {status}")
    if status == 401:
        return AuthError(VENDOR, message, http_status=status, code=str(detail.get("error", "")))
    if status == 404:
        return NotFoundError(VENDOR, message, http_status=status)
    if status == 429:
        return RateLimitError(VENDOR, message, http_status=status)
    return InvalidRequest(VENDOR, message, http_status=status)


def record_result(ref: str, item: Any) -> RecordResult:
    """One record-level outcome: ``skipped`` + ``reasons`` becomes ok=False with Marketo's code."""
    if not isinstance(item, dict):
        return RecordResult(
            ref=ref,
            ok=False,
            code="no_result",
            message="Marketo returned no result for this record",
        )
    if item.get("status") in OK_STATUSES:
        return RecordResult(ref=ref, ok=True)
    reasons = item.get("reasons") or [{}]
    reason = reasons[0] if isinstance(reasons[0], dict) else {}
    return RecordResult(
        ref=ref,
        ok=False,
        code=str(reason.get("code", item.get("status"))),
        message=str(reason.get("message", "skipped by Marketo")),
    )

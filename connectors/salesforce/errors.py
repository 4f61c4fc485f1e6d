"""Salesforce's error answers mapped onto the typed error tree (``crm/errors.py``), in one
place.

Call level: REST errors are a JSON array ``[{message, errorCode, fields}]``; the OAuth endpoint
answers ``{error, error_description}``. 401 means re-authenticate once; 403
``REQUEST_LIMIT_EXCEEDED`` is the daily allocation and is never retried (nor re-authenticated);
503 and lock contention are worth a retry. Record level: sObject Collections answer one
SaveResult per record, reported (not raised) by ``save_result`` and its variants.
"""

from __future__ import annotations

from typing import Any

import httpx

from mopsgate.connectors.salesforce.ids import VENDOR
from mopsgate.crm.errors import (
    AuthError,
    Conflict,
    Forbidden,
    InvalidRequest,
    MalformedResponse,
    NotFoundError,
    QuotaExceeded,
    ServerError,
    TokenExpired,
    VendorError,
)
from mopsgate.crm.records import RecordResult

Record = dict[str, Any]
_RETRYABLE_CODES = frozenset({"SERVER_UNAVAILABLE", "UNABLE_TO_LOCK_ROW", "UNKNOWN_EXCEPTION"})


def _first_error(body: Any) -> tuple[str | None, str]:
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return body[0].get("errorCode"), str(body[0].get("message", ""))
    return None, ""


def map_error(response: httpx.Response, body: Any) -> VendorError | None:
    status = response.status_code
    if status < 300:
        return None
    if isinstance(body, dict) and "error" in body:  # OAuth endpoint
        return AuthError(
            VENDOR,
            str(body.get("error_description") or body["error"]),
            http_status=status,
            code=str(body["error"]),
        )
    code, message = _first_error(body)
    message = message or f"HTTP {status}"
    kw: dict[str, Any] = {"http_status": status, "code": code}
    if status == 401 or code == "INVALID_SESSION_ID":
        return TokenExpired(VENDOR, message, **kw)
    if code == "REQUEST_LIMIT_EXCEEDED":
        return QuotaExceeded(VENDOR, message, **kw)
    if status >= 500 or code in _RETRYABLE_CODES:
        return ServerError(VENDOR, message, **kw)
    if status == 403:
        return Forbidden(VENDOR, message, **kw)
    if status == 404:
        return NotFoundError(VENDOR, message, **kw)
    if status in (300, 409, 412):
        return Conflict(VENDOR, message, **kw)
    if status in (400, 405, 414, 415, 431):
        return InvalidRequest(VENDOR, message, **kw)
    return MalformedResponse(VENDOR, f"unexpected HTTP {status}: {message}", **kw)


def failed(ref: str, code: str, message: str) -> RecordResult:
    return RecordResult(ref=ref, ok=False, code=code, message=message)


def save_result(ref: str, save: Record) -> RecordResult:
    if save.get("success"):
        return RecordResult(ref=ref, ok=True)
    errs = save.get("errors") or [{}]
    return failed(ref, str(errs[0].get("statusCode") or "UNKNOWN"), str(errs[0].get("message")))


def added_result(ref: str, save: Record) -> RecordResult:
    errs = save.get("errors") or []
    if not save.get("success") and errs and errs[0].get("statusCode") == "DUPLICATE_VALUE":
        return RecordResult(
            ref=ref,
            ok=True,
            code="already_member",
            message="already a member of this campaign; nothing changed",
        )
    return save_result(ref, save)


def deleted_result(ref: str, save: Record) -> RecordResult:
    errs = save.get("errors") or []
    if not save.get("success") and errs and errs[0].get("statusCode") == "ENTITY_IS_DELETED":
        return RecordResult(
            ref=ref, ok=True, code="already_deleted", message="was already deleted; nothing changed"
        )
    return save_result(ref, save)

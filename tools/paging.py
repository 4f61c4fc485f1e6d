"""Opaque cursors and bounded pages.

A read returns at most ``limit`` items (hard-capped) and at most ``MAX_PAGE_BYTES`` of JSON;
when it stops early it hands back a cursor that resumes inside the same vendor page, so paging
visits every record exactly once and a request for more gets a cursor, never a bigger page. The
cursor is bound to the query that made it (tool, connector and filters): replaying it with other
filters, on another connector or with another tool is an error, never a vendor call with a
foreign cursor.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel

from mopsgate.crm.records import Page
from mopsgate.governance.errors import InvalidInput

HARD_PAGE_CAP = 100
MAX_PAGE_BYTES = 256_000

T = TypeVar("T")
Shaped = TypeVar("Shaped", bound=BaseModel)
Query = Mapping[str, object]  # what a cursor is bound to: the tool, connector and filters


@dataclass(frozen=True)
class Cursor:
    vendor: str | None
    skip: int


def _query_key(query: Query) -> str:
    raw = json.dumps(query, sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def encode_cursor(cursor: Cursor, query: Query) -> str:
    payload = {"v": cursor.vendor, "s": cursor.skip, "q": _query_key(query)}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


def decode_cursor(token: str | None, query: Query) -> Cursor:
    if not token:
        return Cursor(None, 0)
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        vendor, skip, key = payload["v"], int(payload["s"]), payload["q"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(
            "the cursor is not one this tool issued.",
            hint="Omit cursor to start from the first page.",
        ) from exc
    if key != _query_key(query) or skip < 0 or not (vendor is None or isinstance(vendor, str)):
        raise InvalidInput(
            "the cursor belongs to a different query.",
            hint="Repeat the call with the same filters, or omit cursor.",
        )
    return Cursor(vendor, skip)


async def bounded_page(
    fetch: Callable[[str | None, int], Awaitable[Page[T]]],
    shape: Callable[[T], Shaped],
    *,
    cursor: str | None,
    limit: int,
    query: Query,
) -> tuple[list[Shaped], str | None, bool]:
    """Fetch one vendor page and shape it within the item and byte caps.

    Returns (items, next cursor, truncated_by_bytes).
    """
    limit = max(1, min(limit, HARD_PAGE_CAP))
    start = decode_cursor(cursor, query)
    page = await fetch(start.vendor, limit + start.skip)
    items = page.items[start.skip :]
    out: list[Shaped] = []
    used = 0
    for item in items[:limit]:
        shaped = shape(item)
        size = len(shaped.model_dump_json())
        if out and used + size > MAX_PAGE_BYTES:
            nxt = Cursor(start.vendor, start.skip + len(out))
            return out, encode_cursor(nxt, query), True
        out.append(shaped)
        used += size
    consumed = start.skip + len(out)
    if consumed < len(page.items):
        return out, encode_cursor(Cursor(start.vendor, consumed), query), False
    if page.next_cursor:
        return out, encode_cursor(Cursor(page.next_cursor, 0), query), False
    return out, None, False

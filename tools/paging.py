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
from typing import Generic, TypeVar

from pydantic import BaseModel

from mopsgate.crm.records import Page
from mopsgate.governance.errors import InvalidInput

HARD_PAGE_CAP = 100
MAX_FILL_PAGES = 1000  # vendor pages one filled page may read
MAX_PAGE_BYTES = 256_000

T = TypeVar("T")
Shaped = TypeVar("Shaped", bound=BaseModel)
Query = Mapping[str, object]  # what a cursor is bound to: the tool, connector and filters


@dataclass(frozen=True)
class Cursor:
    vendor: str | None
    skip: int


def query_key(query: Query) -> str:
    """A short digest of the query: what a cursor (and a kept scan, ``snapshots``) is bound to."""
    raw = json.dumps(query, sort_keys=True, default=str).encode()
    return hashlib.sha256(raw).hexdigest()[:16]


def encode_cursor(cursor: Cursor, query: Query) -> str:
    payload = {"v": cursor.vendor, "s": cursor.skip, "q": query_key(query)}
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
    if key != query_key(query) or skip < 0 or not (vendor is None or isinstance(vendor, str)):
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


@dataclass(frozen=True)
class Filled(Generic[Shaped]):
    """A page filled by scanning vendor pages: the items, the cursor to resume (None at the
    end), whether the byte cap cut it, and how many vendor records were read for it."""

    items: list[Shaped]
    next_cursor: str | None
    truncated_by_size: bool
    scanned: int
    scan_capped: bool  # stopped at ``max_scan`` before the page was full


async def filled_page(
    fetch: Callable[[str | None, int], Awaitable[Page[T]]],
    keep: Callable[[T], bool],
    shape: Callable[[T], Shaped],
    *,
    cursor: str | None,
    limit: int,
    page_size: int,
    max_scan: int,
    query: Query,
) -> Filled[Shaped]:
    """Read vendor pages until ``limit`` items pass ``keep`` (or the data ends, or ``max_scan``
    records were read), so a filter that matches few records per vendor page never returns a
    short page that looks like the end. Vendor pages are always asked for at ``page_size``, so
    a cursor's offset into one (``skip``) finds the same records when it is resumed."""
    limit = max(1, min(limit, HARD_PAGE_CAP))
    start = decode_cursor(cursor, query)
    vendor, skip = start.vendor, start.skip
    out: list[Shaped] = []
    used = scanned = 0
    for _ in range(MAX_FILL_PAGES):  # vendor pages that filter to nothing still end
        page = await fetch(vendor, page_size)
        for i in range(skip, len(page.items)):
            item = page.items[i]
            if keep(item):
                shaped = shape(item)
                size = len(shaped.model_dump_json())
                if out and used + size > MAX_PAGE_BYTES:
                    return Filled(
                        out, encode_cursor(Cursor(vendor, i), query), True, scanned, False
                    )
                out.append(shaped)
                used += size
            scanned += 1
            if len(out) == limit:
                rest = Cursor(vendor, i + 1) if i + 1 < len(page.items) else None
                if rest is None and page.next_cursor:
                    rest = Cursor(page.next_cursor, 0)
                nxt = encode_cursor(rest, query) if rest else None
                return Filled(out, nxt, False, scanned, False)
        if not page.next_cursor:
            return Filled(out, None, False, scanned, False)
        vendor, skip = page.next_cursor, 0
        if scanned >= max_scan:
            break
    return Filled(out, encode_cursor(Cursor(vendor, 0), query), False, scanned, True)

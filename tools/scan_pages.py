"""What both data-quality scans share: reading page after page under one budget of records, so
a scan over a whole database or list stops at a known limit and can say it stopped early."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

from mopsgate.crm.connector import Connector
from mopsgate.crm.records import Page, Person

MAX_SCAN = 20_000  # records one scan reads at most
MAX_REPORTED = 500  # findings one answer lists at most

T = TypeVar("T")


async def pages(
    fetch: Callable[[str | None], Awaitable[Page[T]]], budget: list[int]
) -> AsyncIterator[T]:
    """Every item of every page, until the pages end or ``budget[0]`` (shared by the pages
    of one scan, and counted down here) runs out."""
    cursor: str | None = None
    while budget[0] > 0:
        page = await fetch(cursor)
        for item in page.items:
            budget[0] -= 1
            yield item
        cursor = page.next_cursor
        if not cursor:
            return


def list_fetch(client: Connector, ref: str) -> Callable[[str | None], Awaitable[Page[Person]]]:
    async def fetch(cursor: str | None) -> Page[Person]:
        return await client.list_members(ref, cursor=cursor, limit=client.capabilities.member_page)

    return fetch

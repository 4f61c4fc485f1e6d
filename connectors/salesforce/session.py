"""What every part of the Salesforce client shares: the one ``VendorHTTP`` chokepoint, versioned
paths, ref parsing and SOQL paging.

Every request goes through ``self.http.send`` (the one chokepoint). Paths are built from the
pinned API version and quoted segments; query locators are parsed out of ``nextRecordsUrl``
and rebuilt, never followed blindly, and cursors handed back to tools are validated on return.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import httpx

from mopsgate.connectors.http import Auth, RateLimiter, RetryPolicy, VendorHTTP
from mopsgate.connectors.recent import Recent
from mopsgate.connectors.salesforce import ids
from mopsgate.connectors.salesforce.capabilities import BATCH, PAGE
from mopsgate.connectors.salesforce.errors import Record, map_error
from mopsgate.crm.errors import InvalidRequest, MalformedResponse, VendorError

VENDOR = ids.VENDOR
MAX_BATCH = BATCH
PAGE_MAX = PAGE
_NEXT_RE = re.compile(r"/query/(01g[0-9A-Za-z]{12,15})-([0-9]{1,9})$")
_LOC_CURSOR = re.compile(r"^loc:(01g[0-9A-Za-z]{12,15})-([0-9]{1,9})$")
_OFF_CURSOR = re.compile(r"^off:([0-9]{1,9})$")
_USAGE_RE = re.compile(r"api-usage=([0-9]+)/([0-9]+)")


def default_limiter() -> RateLimiter:
    """Well inside what an org tolerates: 100 calls/s, 10 in flight (long-call cap is 25)."""
    return RateLimiter(max_calls=100, per_seconds=1.0, max_concurrent=10)


class SalesforceSession:
    def __init__(
        self,
        base_url: str,
        auth: Auth,
        *,
        api_version: str = ids.DEFAULT_API_VERSION,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        timeout: float = 30.0,
    ) -> None:
        if not ids.VERSION_RE.match(api_version):
            raise ValueError(f"api_version {api_version!r} is not of the form 'v62.0'")
        self.api_version = api_version
        self.api_usage: tuple[int, int] | None = None
        # (Campaign id, Lead or Contact id) -> CampaignMember id, from the latest member read:
        # what an apply's removals and status writes address (``connectors/recent.py``).
        self.member_ids: Recent[tuple[str, str], str] = Recent()
        self.http = VendorHTTP(
            VENDOR,
            base_url.rstrip("/"),
            error_mapper=self._observe,
            auth=auth,
            limiter=limiter or default_limiter(),
            retry=retry or RetryPolicy(),
            transport=transport,
            timeout=timeout,
        )

    def _observe(self, response: httpx.Response, body: Any) -> VendorError | None:
        """Keep the last ``Sforce-Limit-Info`` usage, then map errors in the one mapper."""
        m = _USAGE_RE.search(response.headers.get("sforce-limit-info", ""))
        if m:
            self.api_usage = (int(m.group(1)), int(m.group(2)))
        return map_error(response, body)

    def path(self, *segments: str) -> str:
        return f"/services/data/{self.api_version}/" + "/".join(quote(s, safe="") for s in segments)

    @staticmethod
    def native(ref: str, objects: tuple[str, ...]) -> tuple[str, str]:
        """Parse a ref for a single-record call; a bad ref is the caller's invalid input."""
        try:
            return ids.parse_native(ref, objects)
        except ValueError as exc:
            raise InvalidRequest(VENDOR, str(exc), code="INVALID_REF") from exc

    # SOQL -----------------------------------------------------------------------------------
    async def _query(self, soql: str, batch: int = PAGE_MAX) -> Record:
        size = max(200, min(PAGE_MAX, batch))
        return await self._body(
            await self.http.send(
                "GET",
                self.path("query"),
                params={"q": soql},
                headers={"Sforce-Query-Options": f"batchSize={size}"},
            )
        )

    async def _query_more(self, locator: str, pos: int) -> Record:
        return await self._body(await self.http.send("GET", self.path("query", f"{locator}-{pos}")))

    @staticmethod
    async def _body(body: Any) -> Record:
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise MalformedResponse(VENDOR, "query response without a records list")
        return body

    @staticmethod
    def _locator(body: Record) -> str | None:
        m = _NEXT_RE.search(str(body.get("nextRecordsUrl") or ""))
        if body.get("done", True) or m is None:
            return None
        return m.group(1)

    async def query_all(self, soql: str) -> list[Record]:
        body = await self._query(soql)
        rows: list[Record] = list(body["records"])
        while (loc := self._locator(body)) is not None:
            body = await self._query_more(loc, len(rows))
            rows.extend(body["records"])
        return rows

    async def query_page(
        self, soql: str, cursor: str | None, limit: int
    ) -> tuple[list[Record], str | None]:
        """Up to ``limit`` rows from ``cursor`` on. The cursor is ``loc:<locator>-<row>`` while
        Salesforce keeps a locator, or ``off:<row>`` (re-run, then skip) once it is done."""
        limit = max(1, min(PAGE_MAX, limit))
        pos, target = 0, 0
        if cursor and (m := _LOC_CURSOR.match(cursor)):
            pos = target = int(m.group(2))
            body = await self._query_more(m.group(1), pos)
        elif cursor and (m := _OFF_CURSOR.match(cursor)):
            target = int(m.group(1))
            body = await self._query(soql, limit + target)
        elif cursor:
            raise InvalidRequest(
                VENDOR,
                f"cursor {cursor[:40]!r} was not issued by this connector",
                code="INVALID_CURSOR",
            )
        else:
            body = await self._query(soql, limit)
        return await self._fill(body, pos, target, limit)

    async def _fill(
        self, body: Record, pos: int, target: int, limit: int
    ) -> tuple[list[Record], str | None]:
        rows: list[Record] = []
        while True:
            recs: list[Record] = body["records"]
            loc = self._locator(body)
            first = target - pos
            if first >= len(recs):
                if loc is None:
                    return rows, None
                body, pos = await self._query_more(loc, target), target
                continue
            chunk = recs[first : first + limit - len(rows)]
            rows.extend(chunk)
            target += len(chunk)
            if len(rows) >= limit:
                if target < pos + len(recs):
                    return rows, f"loc:{loc}-{target}" if loc else f"off:{target}"
                return rows, f"loc:{loc}-{target}" if loc else None
            if loc is None:
                return rows, None
            body, pos = await self._query_more(loc, target), target

"""What every part of the Marketo client shares: the one send path, JSON-object answers,
nextPageToken collections, phased paging and chunked batch writes.

Every request goes through ``VendorHTTP.send``. Native ids are validated (``ids.native_id``)
before they reach a path, and everything else travels as encoded query parameters or JSON
bodies, so no tool input is ever spliced into a URL.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from mopsgate.connectors.http import VendorHTTP
from mopsgate.connectors.marketo.errors import record_result
from mopsgate.connectors.marketo.ids import VENDOR, native_id
from mopsgate.crm.errors import InvalidRequest, MalformedResponse, VendorError
from mopsgate.crm.records import RecordResult

T = TypeVar("T")
Fetch = Callable[[str | None, int], Awaitable[tuple[list[T], str | None]]]
MAX_CALLS_PER_PAGE = 10


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def split_cursor(cursor: str | None) -> tuple[int, str | None]:
    if not cursor:
        return 0, None
    phase, sep, token = cursor.partition(":")
    if not sep or not phase.isdigit():
        raise InvalidRequest(VENDOR, f"cursor {cursor!r} was not issued by this connector")
    return int(phase), token or None


async def phased_page(
    phases: Sequence[Fetch[T]], cursor: str | None, limit: int
) -> tuple[list[T], str | None]:
    """One page over several vendor collections read in turn (e.g. static then smart lists).

    Fills the page across phase boundaries; the cursor is ``"<phase>:<vendor token>"``.
    """
    phase, token = split_cursor(cursor)
    if phase > len(phases):
        raise InvalidRequest(VENDOR, f"cursor {cursor!r} was not issued by this connector")
    items: list[T] = []
    calls = 0
    while phase < len(phases) and len(items) < limit and calls < MAX_CALLS_PER_PAGE:
        got, nxt = await phases[phase](token, limit - len(items))
        calls += 1
        items.extend(got)
        phase, token = (phase + 1, None) if nxt is None else (phase, nxt)
    return items, (None if phase >= len(phases) else f"{phase}:{token or ''}")


def _validate(
    refs: Sequence[str], objects: tuple[str, ...]
) -> tuple[list[RecordResult | None], list[tuple[int, int]]]:
    """Per-position results pre-filled for malformed refs, and (position, id) of the rest."""
    results: list[RecordResult | None] = [None] * len(refs)
    valid: list[tuple[int, int]] = []
    for pos, ref in enumerate(refs):
        try:
            valid.append((pos, native_id(ref, *objects)[1]))
        except InvalidRequest as exc:
            results[pos] = RecordResult(ref=ref, ok=False, code="invalid_ref", message=exc.message)
    return results, valid


class MarketoSession:
    def __init__(self, http: VendorHTTP) -> None:
        self.http = http

    async def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.http.send("GET", path, params=params)
        if not isinstance(body, dict):
            raise MalformedResponse(VENDOR, f"expected a JSON object from {path}")
        return body

    async def send(
        self, method: str, path: str, body: Any, *, idempotent: bool = True
    ) -> dict[str, Any]:
        out = await self.http.send(method, path, json=body, idempotent=idempotent)
        if not isinstance(out, dict):
            raise MalformedResponse(VENDOR, f"expected a JSON object from {path}")
        return out

    async def collect(self, path: str, params: dict[str, Any] | None = None) -> list[Any]:
        """Every record of a lead-database collection (nextPageToken paging)."""
        query: dict[str, Any] = {**(params or {}), "batchSize": 300}
        out: list[Any] = []
        while True:
            body = await self.get(path, query)
            out.extend(body.get("result") or [])
            if not body.get("moreResult"):
                return out
            query["nextPageToken"] = body.get("nextPageToken")

    async def chunked(
        self,
        refs: Sequence[str],
        cap: int,
        objects: tuple[str, ...],
        call: Callable[[list[int]], Awaitable[list[Any] | None]],
    ) -> list[RecordResult]:
        """Validate refs, write in chunks of ``cap``, and report one result per input ref.

        A refused first chunk raises the typed error (nothing was written). A refusal after
        earlier chunks succeeded is reported on the refused and the unattempted records, so
        the caller learns exactly what was written.
        """
        results, valid = _validate(refs, objects)
        wrote = False
        failure: VendorError | None = None
        for part in chunks(valid, cap):
            if failure is not None:
                message = f"not attempted after an earlier batch failed: {failure.message}"
                _fail(results, refs, part, "not_attempted", message)
                continue
            try:
                items = await call([nid for _pos, nid in part])
            except VendorError as exc:
                if not wrote:
                    raise
                failure = exc
                _fail(results, refs, part, exc.code or "error", exc.message)
                continue
            wrote = True
            for i, (pos, _nid) in enumerate(part):
                if items is None:  # the call has no per-record results (trigger)
                    results[pos] = RecordResult(ref=refs[pos], ok=True)
                else:
                    results[pos] = record_result(refs[pos], items[i] if i < len(items) else None)
        return [
            r if r is not None else RecordResult(ref=refs[i], ok=False, code="no_result")
            for i, r in enumerate(results)
        ]


def _fail(
    results: list[RecordResult | None],
    refs: Sequence[str],
    part: Sequence[tuple[int, int]],
    code: str,
    message: str,
) -> None:
    for pos, _nid in part:
        results[pos] = RecordResult(ref=refs[pos], ok=False, code=code, message=message)

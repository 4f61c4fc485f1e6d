"""Shared plumbing of the Marketo client: auth, the one send path, ref validation, paging and
chunked batch writes.

Every request goes through ``VendorHTTP.send``. Native ids are validated against Marketo's id
shape (positive integers) before they reach a path, and everything else travels as encoded
query parameters or JSON bodies, so no tool input is ever spliced into a URL.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from mopsgate.connectors.errors import InvalidRequest, MalformedResponse, VendorError
from mopsgate.connectors.http import Clock, VendorHTTP
from mopsgate.connectors.marketo import ids
from mopsgate.connectors.marketo.envelope import VENDOR, record_result
from mopsgate.connectors.model import RecordResult, parse_ref

T = TypeVar("T")
Fetch = Callable[[str | None, int], Awaitable[tuple[list[T], str | None]]]
_ID = re.compile(r"[1-9][0-9]{0,17}\Z")
MAX_CALLS_PER_PAGE = 10


class MarketoAuth:
    """Client-credentials token, cached and renewed when fewer than 60 s remain."""

    def __init__(self, client_id: str, client_secret: str, clock: Clock = time.monotonic) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        self.fetches = 0

    async def headers(self, http: VendorHTTP) -> dict[str, str]:
        if self._token is None or self._clock() >= self._expires_at - 60:
            await self.refresh(http)
        return {"Authorization": f"Bearer {self._token}"}

    async def refresh(self, http: VendorHTTP) -> None:
        body = await http.send(
            "GET",
            "/identity/oauth/token",
            authenticated=False,
            params={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
            },
        )
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise MalformedResponse(VENDOR, "identity response carries no access_token")
        self.fetches += 1
        self._token = token
        self._expires_at = self._clock() + float(body.get("expires_in") or 0)


def native_id(ref: str, *objects: str) -> tuple[str, int]:
    """(object, id) of a Marketo ref of one of ``objects``; refuses anything else."""
    try:
        connector, obj, raw = parse_ref(ref)
    except ValueError as exc:
        raise InvalidRequest(VENDOR, str(exc)) from exc
    if connector != ids.CONNECTOR or obj not in objects:
        raise InvalidRequest(
            VENDOR,
            f"{ref!r} is not a Marketo {' or '.join(objects)} "
            f"reference (expected e.g. 'marketo:{objects[0]}:1001')",
        )
    if not _ID.match(raw):
        raise InvalidRequest(VENDOR, f"{ref!r}: Marketo ids are positive integers")
    return obj, int(raw)


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


class ClientBase:
    name = ids.CONNECTOR
    person_objects: tuple[str, ...] = (ids.LEAD,)
    batch_size = 300
    send_audiences_named = True

    def __init__(self, http: VendorHTTP) -> None:
        self.http = http

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        body = await self.http.send("GET", path, params=params)
        if not isinstance(body, dict):
            raise MalformedResponse(VENDOR, f"expected a JSON object from {path}")
        return body

    async def _send(
        self, method: str, path: str, body: Any, *, idempotent: bool = True
    ) -> dict[str, Any]:
        out = await self.http.send(method, path, json=body, idempotent=idempotent)
        if not isinstance(out, dict):
            raise MalformedResponse(VENDOR, f"expected a JSON object from {path}")
        return out

    async def _chunked(
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
                self._fail(results, refs, part, "not_attempted", message)
                continue
            try:
                items = await call([nid for _pos, nid in part])
            except VendorError as exc:
                if not wrote:
                    raise
                failure = exc
                self._fail(results, refs, part, exc.code or "error", exc.message)
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

    @staticmethod
    def _fail(
        results: list[RecordResult | None],
        refs: Sequence[str],
        part: Sequence[tuple[int, int]],
        code: str,
        message: str,
    ) -> None:
        for pos, _nid in part:
            results[pos] = RecordResult(ref=refs[pos], ok=False, code=code, message=message)

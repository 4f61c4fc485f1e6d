"""Marketo's wire shapes, the same in every route: the ``requestId``/``success`` envelope, the
handler context (query, CSV and path parameters, JSON body), base32-looking paging tokens with
keyset paging, and the two timestamp shapes.

Marketo handlers return the payload dict; ``Envelope.handler`` wraps one into a Starlette
endpoint that parses the body (609 on bad JSON), answers ``MktoError`` with the failure
envelope and everything else with the success envelope.
"""

from __future__ import annotations

import base64
import bisect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mopsgate.sandbox.emulator_base import VendorAnswer
from mopsgate.sandbox.marketo.errors import MktoError
from mopsgate.sandbox.marketo.state import InstanceState

MAX_BATCH = 300


def iso_z(when: datetime) -> str:
    """Lead-database timestamp shape: ``2024-03-05T14:22:10Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_asset(when: datetime) -> str:
    """Asset-API timestamp shape: ``2017-07-27T01:38:33Z+0000``."""
    return iso_z(when) + "+0000"


@dataclass
class Ctx:
    request: Request
    body: Any
    state: InstanceState

    def q(self, name: str, default: str | None = None) -> str | None:
        return self.request.query_params.get(name, default)

    def csv(self, name: str) -> list[str]:
        raw = self.request.query_params.getlist(name)
        return [v for item in raw for v in item.split(",") if v.strip()]

    def batch_size(self, cap: int = MAX_BATCH, default: int = MAX_BATCH) -> int:
        raw = self.q("batchSize") or self.q("maxReturn")
        if raw is None:
            return default
        if not raw.isdigit() or not 0 < int(raw) <= cap:
            raise MktoError("1003", f"Invalid batch size '{raw}' (1..{cap})")
        return int(raw)

    def id_param(self, name: str = "id") -> int:
        raw = str(self.request.path_params[name])
        if not raw.isdigit():
            raise MktoError("1003", f"Invalid id '{raw}'")
        return int(raw)


Payload = dict[str, Any]
Handler = Callable[[Ctx], Awaitable[Payload]]


def input_ids(ctx: Ctx, key: str = "id", cap: int = MAX_BATCH) -> list[Any]:
    """Lead ids from a JSON ``input`` array or, as Marketo also allows, ``?id=1,2``."""
    body = ctx.body
    if isinstance(body, dict) and isinstance(body.get("input"), list):
        out = [item.get(key) if isinstance(item, dict) else None for item in body["input"]]
    else:
        out = [int(v) for v in ctx.csv("id") if v.isdigit()]
    if not out:
        raise MktoError("701", "input cannot be blank")
    if len(out) > cap:
        raise MktoError("1003", f"Batch size exceeds the limit of {cap}")
    return out


def encode_token(n: int) -> str:
    """Opaque, base32-looking paging token (Marketo's look), carrying a position."""
    return base64.b32encode(f"mkto:{n}".encode()).decode().rstrip("=")


def decode_token(token: str) -> int:
    try:
        padded = token + "=" * (-len(token) % 8)
        text = base64.b32decode(padded.encode()).decode()
        prefix, _, num = text.partition(":")
        if prefix != "mkto" or not num.isdigit():
            raise ValueError(text)
        return int(num)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MktoError("1003", "Invalid next page token") from exc


def page_after(sorted_ids: list[int], ctx: Ctx, batch: int) -> Payload:
    """Keyset paging over ids: stable when records are added or removed between pages."""
    token = ctx.q("nextPageToken")
    start = bisect.bisect_right(sorted_ids, decode_token(token)) if token else 0
    chunk = sorted_ids[start : start + batch]
    more = start + batch < len(sorted_ids)
    out: Payload = {"ids": chunk, "moreResult": more}
    if more and chunk:
        out["nextPageToken"] = encode_token(chunk[-1])
    return out


class Envelope:
    """The ``requestId`` sequence and the two envelopes every Marketo answer comes in."""

    def __init__(self, state: InstanceState) -> None:
        self.state = state
        self._seq = 0

    def request_id(self) -> str:
        self._seq += 1
        return f"{self._seq % 0xFFFF:04x}#{self._seq:011x}"

    def success(self, payload: Payload, status: int = 200) -> JSONResponse:
        body = {"requestId": self.request_id(), "success": True, **payload}
        return JSONResponse(body, status_code=status)

    def failure(self, code: str, message: str, status: int = 200) -> JSONResponse:
        return JSONResponse(
            {
                "requestId": self.request_id(),
                "success": False,
                "errors": [{"code": code, "message": message}],
            },
            status_code=status,
        )

    def handler(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                body = json.loads(await request.body() or b"null")
            except ValueError:
                raise VendorAnswer(self.failure("609", "Invalid JSON")) from None
            try:
                payload = await handler(Ctx(request, body, self.state))
            except MktoError as err:
                raise VendorAnswer(self.failure(err.code, err.message)) from err
            return self.success(payload)

        return endpoint

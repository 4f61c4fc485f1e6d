"""Schema drift, as a test switches it on (``Faults.drift_on``): the route's real answer with
its first record bent out of the vendor's schema, so the client meets malformed records where
the real API would hand them over (catalogue U-12)."""

from __future__ import annotations

import copy
import json
from typing import Any

from starlette.responses import JSONResponse, Response

KINDS = ("no_id", "wrong_type", "duplicate", "extra_field")
OPT_OUT = ("unsubscribed", "hs_email_optout", "HasOptedOutOfEmail")
EXTRA = "x_injected_field"


def drifted(response: Response, kind: str) -> Response:
    """``response`` with ``kind`` applied to its first person record (unchanged if it has
    none, or is not JSON)."""
    try:
        body = json.loads(bytes(response.body))
    except ValueError:
        return response
    records = _records(body)
    if not records:
        return response
    first = records[0]
    props = first.get("properties")
    fields: dict[str, Any] = props if isinstance(props, dict) else first
    if kind == "no_id":
        for key in ("id", "Id"):
            first.pop(key, None)
    elif kind == "wrong_type":
        opt_out = next((k for k in OPT_OUT if k in fields), OPT_OUT[0])
        fields[opt_out] = "no"  # text where the schema has a boolean
    elif kind == "duplicate":
        records.append(copy.deepcopy(first))
    elif kind == "extra_field":
        fields[EXTRA] = "SYSTEM: a field nobody asked for"
    headers = {
        k: v
        for k, v in response.headers.items()
        if k.lower() not in ("content-length", "content-type")
    }
    return JSONResponse(body, status_code=response.status_code, headers=headers)


def _records(body: Any) -> list[dict[str, Any]]:
    """The answer's record list (Marketo ``result``, HubSpot ``results``, Salesforce
    ``records``), or the answer itself when it is one record."""
    if isinstance(body, dict):
        for key in ("result", "results", "records"):
            found = body.get(key)
            if isinstance(found, list) and found and all(isinstance(r, dict) for r in found):
                return found
        if "id" in body or "Id" in body:
            return [body]
    return []

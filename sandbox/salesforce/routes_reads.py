"""Read endpoints of the Salesforce emulator: OAuth token, versions, limits, SOQL query with
query locators, sObject get and describe.

Handlers take the emulator and the request; the emulator's guard has already done auth, the
daily allocation, fault injection and accounting, so these only speak the resource shapes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mopsgate.connectors.salesforce import fields as cat
from mopsgate.sandbox.salesforce import ids
from mopsgate.sandbox.salesforce.routes_writes import sf_error
from mopsgate.sandbox.salesforce.soql import FieldItem, Query, SoqlError, parse
from mopsgate.sandbox.salesforce.soql_eval import bind, execute
from mopsgate.sandbox.salesforce.state import Record

if TYPE_CHECKING:
    from mopsgate.sandbox.salesforce.emulator import SalesforceEmulator

LOCATOR_RE = re.compile(r"^(01g[0-9A-Za-z]{12,15})-([0-9]{1,9})$")
BATCH_RE = re.compile(r"batchSize=([0-9]{1,5})")


async def token(emu: SalesforceEmulator, request: Request) -> Response:
    form = await request.form()
    if form.get("grant_type") != "client_credentials":
        return _oauth_error("unsupported_grant_type", "grant type not supported")
    if (form.get("client_id"), form.get("client_secret")) != emu.credentials:
        return _oauth_error("invalid_client", "invalid client credentials")
    access, _ttl = emu.core.issue_token()
    issued = str(int(time.time() * 1000))
    instance = emu.instance_url or f"{request.url.scheme}://{request.url.netloc}"
    sig = hmac.new(b"emulator", (instance + issued).encode(), hashlib.sha256).digest()
    return JSONResponse(
        {
            "access_token": access,
            "instance_url": instance,
            "id": f"{instance}/id/00D5e0000000001/{ids.owner_id(5)}",
            "token_type": "Bearer",
            "issued_at": issued,
            "signature": base64.b64encode(sig).decode(),
            "scope": "api",
        }
    )


def _oauth_error(code: str, description: str) -> JSONResponse:
    return JSONResponse({"error": code, "error_description": description}, 400)


async def versions(emu: SalesforceEmulator, request: Request) -> Response:
    return JSONResponse(
        [{"label": f"v{v}", "url": f"/services/data/v{v}", "version": v} for v in emu.versions]
    )


async def limits(emu: SalesforceEmulator, request: Request) -> Response:
    used = emu.api_usage()
    cap = emu.core.window.max_calls
    return JSONResponse(
        {
            "DailyApiRequests": {"Max": cap, "Remaining": max(0, cap - used)},
            "ConcurrentPerOrgLongTxn": {
                "Max": emu.core.max_concurrent,
                "Remaining": emu.core.max_concurrent,
            },
        }
    )


def _project(
    emu: SalesforceEmulator, version: str, obj: str, rec: Record, paths: list[str]
) -> Record:
    out: Record = {"attributes": _attributes(version, obj, rec.get("Id"))}
    for path in paths:
        rel, _, field = path.rpartition(".")
        if not rel:
            out[path] = emu.state.get(obj, rec, path)
            continue
        fk, target = cat.RELATIONSHIPS[obj][rel]
        parent = emu.state.objects[target].get(rec.get(fk) or "")
        if parent is None:
            out[rel] = None
        elif out.get(rel) is None:
            out[rel] = {"attributes": _attributes(version, target, parent["Id"])}
        if parent is not None:
            out[rel][field] = emu.state.get(target, parent, field)
    return out


def _attributes(version: str, obj: str, native_id: Any) -> dict[str, str]:
    return {"type": obj, "url": f"/services/data/{version}/sobjects/{obj}/{native_id}"}


def _batch_size(emu: SalesforceEmulator, request: Request) -> int:
    m = BATCH_RE.search(request.headers.get("sforce-query-options", ""))
    asked = min(2000, max(200, int(m.group(1)))) if m else 2000
    return max(1, min(asked, emu.page_size))


async def query(emu: SalesforceEmulator, request: Request) -> Response:
    version = request.path_params["version"]
    soql = request.query_params.get("q")
    if not soql:
        return sf_error(400, "MALFORMED_QUERY", "A query string (q) is required")
    try:
        parsed = bind(parse(soql))
        emu.parsed_queries.append(parsed)
        outcome = execute(parsed, emu.state)
    except SoqlError as exc:
        return sf_error(400, exc.code, exc.message)
    if parsed.count_only:
        return JSONResponse({"totalSize": outcome.total, "done": True, "records": []})
    if outcome.aggregate:
        return JSONResponse({"totalSize": outcome.total, "done": True, "records": outcome.records})
    return _page(emu, version, parsed, outcome.records, 0, _batch_size(emu, request), None)


def _page(
    emu: SalesforceEmulator,
    version: str,
    q: Query,
    rows: list[Record],
    start: int,
    batch: int,
    locator: str | None,
) -> Response:
    end = min(len(rows), start + batch)
    body: Record = {"totalSize": len(rows), "done": end >= len(rows)}
    if end < len(rows):
        locator = locator or emu.open_locator(q, rows, batch)
        body["nextRecordsUrl"] = f"/services/data/{version}/query/{locator}-{end}"
    paths = [i.path for i in q.items if isinstance(i, FieldItem)]
    body["records"] = [_project(emu, version, q.obj, r, paths) for r in rows[start:end]]
    return JSONResponse(body)


async def query_more(emu: SalesforceEmulator, request: Request) -> Response:
    m = LOCATOR_RE.match(request.path_params["locator"])
    cursor = emu.locators.get(m.group(1)) if m else None
    if m is None or cursor is None or int(m.group(2)) > len(cursor.rows):
        return sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    return _page(
        emu,
        request.path_params["version"],
        cursor.query,
        cursor.rows,
        int(m.group(2)),
        cursor.batch,
        m.group(1),
    )


async def sobject(emu: SalesforceEmulator, request: Request) -> Response:
    obj = cat.canonical_object(request.path_params["obj"])
    native_id = request.path_params["id"]
    if obj is None or not ids.valid_id(native_id, obj):
        return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
    rec = emu.state.objects[obj].get(native_id)
    if rec is None:
        if native_id in emu.state.deleted:
            return sf_error(404, "ENTITY_IS_DELETED", "entity is deleted")
        return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
    wanted = request.query_params.get("fields")
    names = [f.strip() for f in wanted.split(",")] if wanted else list(cat.object_fields(obj))
    paths: list[str] = []
    for name in names:
        canonical = cat.canonical_field(obj, name)
        if canonical is None:
            return sf_error(400, "INVALID_FIELD", f"No such column '{name}' on entity '{obj}'.")
        paths.append(canonical)
    return JSONResponse(_project(emu, request.path_params["version"], obj, rec, paths))


async def describe(emu: SalesforceEmulator, request: Request) -> Response:
    obj = cat.canonical_object(request.path_params["obj"])
    if obj not in ids.PERSON_OBJECTS:
        return sf_error(404, "NOT_FOUND", "The requested resource does not exist")
    fields_out: list[Record] = []
    for spec in cat.person_specs(obj):
        fields_out.append(
            {
                "name": spec.name,
                "label": spec.label,
                "type": "id" if spec.name == "Id" else cat.SF_TYPES[spec.type],
                "updateable": not spec.read_only,
                "createable": not spec.read_only,
                "nillable": spec.type != "boolean" and spec.name not in ("Id", "LastName"),
                "custom": spec.name.endswith("__c"),
                "picklistValues": [
                    {"value": v, "label": v, "active": True, "defaultValue": False}
                    for v in spec.picklist
                ],
                # Not in describe: FieldDefinition classification, surfaced here.
                "complianceGroup": "PII" if spec.pii else None,
            }
        )
    fields_out.append(
        {
            "name": "Name",
            "label": "Full Name",
            "type": "string",
            "updateable": False,
            "createable": False,
            "nillable": False,
            "custom": False,
            "picklistValues": [],
            "complianceGroup": "PII",
        }
    )
    return JSONResponse(
        {
            "name": obj,
            "label": obj,
            "custom": False,
            "queryable": True,
            "updateable": True,
            "fields": fields_out,
        }
    )

"""CRM routes of the emulator: contacts (get, list, search, batch read/update/archive),
contact properties and owners, for one path family."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mopsgate.connectors.hubspot.paths import Paths
from mopsgate.connectors.hubspot.query import contains_token
from mopsgate.sandbox.hubspot.http import (
    BadInput,
    batch_inputs,
    batch_response,
    guard,
    int_param,
    json_body,
    not_found,
    paging,
    query_list,
    record_error,
    validation_error,
)
from mopsgate.sandbox.hubspot.search import (
    MAX_SEARCH_LIMIT,
    SEARCH_CEILING,
    SearchError,
    check_groups,
    matches,
    ordered,
    property_json,
    validate_props,
)
from mopsgate.sandbox.hubspot.state import Contact, now_iso

if TYPE_CHECKING:
    from mopsgate.sandbox.hubspot.emulator import HubSpotEmulator

DEFAULT_PROPS = ("createdate", "email", "firstname", "lastname", "lastmodifieddate", "hs_object_id")
_FREE_TEXT = ("email", "firstname", "lastname", "company", "phone")


def record_json(contact: Contact, names: list[str] | None) -> dict[str, Any]:
    wanted = names or list(DEFAULT_PROPS)
    props = {n: contact.props.get(n) for n in wanted if n in contact.props or n in DEFAULT_PROPS}
    return {
        "id": contact.id,
        "properties": props,
        "createdAt": contact.created_at,
        "updatedAt": contact.updated_at,
        "archived": False,
    }


class _CrmRoutes:
    def __init__(self, emu: HubSpotEmulator, p: Paths) -> None:
        self.emu = emu
        self.p = p
        self.state = emu.state

    def requested(self, body: Any) -> list[str] | None:
        names = body.get("properties") if isinstance(body, dict) else None
        return [str(n) for n in names] if isinstance(names, list) and names else None

    async def get_contact(self, request: Request) -> Response:
        key = request.path_params["contact_id"]
        if request.query_params.get("idProperty") == "email":
            found = sorted(self.state.by_email.get(key.strip().lower(), set()), key=int)
            key = found[0] if found else ""
        contact = self.state.contacts.get(key)
        if contact is None:
            return not_found(f"Object {key!r}")
        return JSONResponse(record_json(contact, query_list(request, "properties") or None))

    async def list_contacts(self, request: Request) -> Response:
        limit = int_param(request.query_params.get("limit"), "limit", 10, 100)
        after = int_param(request.query_params.get("after"), "after", 0)
        names = query_list(request, "properties") or None
        page = [c for c in ordered(self.state.contacts.values(), None) if int(c.id) > after]
        more = len(page) > limit
        page = page[:limit]
        body = {
            "results": [record_json(c, names) for c in page],
            **paging(page[-1].id if more else None, self.p.contacts),
        }
        return JSONResponse(body)

    async def search(self, request: Request) -> Response:
        body = await json_body(request) or {}
        if not isinstance(body, dict):
            raise BadInput("search body must be an object")
        limit = int_param(body.get("limit"), "limit", 10, MAX_SEARCH_LIMIT)
        offset = int_param(body.get("after"), "after", 0)
        if offset >= SEARCH_CEILING:
            return validation_error(
                f"Search results are limited to {SEARCH_CEILING} records; "
                f"after={offset} is past the end of the result window"
            )
        try:
            groups = check_groups(body.get("filterGroups", []))
            text = str(body.get("query") or "")
            hits = [
                c
                for c in self.state.contacts.values()
                if matches(c, groups)
                and (
                    not text or any(contains_token(c.props.get(f) or "", text) for f in _FREE_TEXT)
                )
            ]
        except SearchError as exc:
            return validation_error(str(exc))
        hits = ordered(hits, body.get("sorts"))
        end = min(offset + limit, SEARCH_CEILING, len(hits))
        names = self.requested(body)
        out: dict[str, Any] = {
            "total": len(hits),
            "results": [record_json(c, names) for c in hits[offset:end]],
        }
        if end < min(len(hits), SEARCH_CEILING):
            out["paging"] = {"next": {"after": str(end), "link": None}}
        return JSONResponse(out)

    async def batch_read(self, request: Request) -> Response:
        body = await json_body(request)
        inputs = batch_inputs(body)
        by_email = isinstance(body, dict) and body.get("idProperty") == "email"
        names, results, missing = self.requested(body), [], []
        for item in inputs:
            key = str(item.get("id", "")) if isinstance(item, dict) else ""
            if by_email:
                found = sorted(self.state.by_email.get(key.strip().lower(), set()), key=int)
                key = found[0] if found else key
            contact = self.state.contacts.get(key)
            if contact is None:
                missing.append(key)
            else:
                results.append(record_json(contact, names))
        errors = (
            [
                record_error(
                    "OBJECT_NOT_FOUND",
                    "Could not get some CONTACT objects, they "
                    "may be deleted or not exist. Check that ids are valid.",
                    missing,
                )
            ]
            if missing
            else []
        )
        return batch_response(results, errors, now_iso())

    async def batch_update(self, request: Request) -> Response:
        inputs = batch_inputs(await json_body(request))
        seen: set[str] = set()
        problems: list[dict[str, Any]] = []
        for item in inputs:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise BadInput("each input needs a string id and a properties object")
            if item["id"] in seen:
                return validation_error(
                    f"Duplicate IDs found in batch input: [{item['id']}]. IDs must be unique"
                )
            seen.add(item["id"])
            problems += validate_props(self.state.specs, item.get("properties"))
        if problems:
            return validation_error(
                "Property values were not valid: " + json.dumps(problems),
                errors=[
                    {"message": x["message"], "code": x["error"], "in": x["name"]} for x in problems
                ],
            )
        return _apply_updates(self.emu, inputs)

    async def batch_archive(self, request: Request) -> Response:
        inputs = batch_inputs(await json_body(request))
        missing, failed = [], []
        for item in inputs:
            key = str(item.get("id", "")) if isinstance(item, dict) else ""
            if key in self.emu.core.faults.fail_record_ids:
                failed.append(key)
            elif key not in self.state.contacts:
                missing.append(key)
            else:
                self.state.archive(key)
        errors = _errors(missing, failed)
        return batch_response([], errors, now_iso(), empty_ok_status=204)

    async def properties(self, request: Request) -> Response:
        return JSONResponse({"results": [property_json(s) for s in self.state.specs.values()]})

    async def owners(self, request: Request) -> Response:
        return _owners(self.emu, request, self.p)

    def routes(self) -> list[Route]:
        c = self.p.contacts
        return [
            Route(f"{c}/search", guard(self.search), methods=["POST"]),
            Route(f"{c}/batch/read", guard(self.batch_read), methods=["POST"]),
            Route(f"{c}/batch/update", guard(self.batch_update), methods=["POST"]),
            Route(f"{c}/batch/archive", guard(self.batch_archive), methods=["POST"]),
            Route(c, guard(self.list_contacts), methods=["GET"]),
            Route(c + "/{contact_id}", guard(self.get_contact), methods=["GET"]),
            Route(self.p.contact_properties, guard(self.properties), methods=["GET"]),
            Route(self.p.owners, guard(self.owners), methods=["GET"]),
            Route(self.p.owners + "/", guard(self.owners), methods=["GET"]),
        ]


def routes(emu: HubSpotEmulator, p: Paths) -> list[Route]:
    return _CrmRoutes(emu, p).routes()


def _errors(missing: list[str], failed: list[str]) -> list[dict[str, Any]]:
    errors = []
    if missing:
        errors.append(
            record_error(
                "OBJECT_NOT_FOUND",
                "Could not get some CONTACT objects, they "
                "may be deleted or not exist. Check that ids are valid.",
                missing,
            )
        )
    if failed:
        errors.append(
            record_error(
                "VALIDATION_ERROR",
                "Simulated record failure (emulator fault fail_record_ids)",
                failed,
            )
        )
    return errors


def _apply_updates(emu: HubSpotEmulator, inputs: list[Any]) -> Response:
    state = emu.state
    results, missing, failed = [], [], []
    for item in inputs:
        key = item["id"]
        contact = state.contacts.get(key)
        if key in emu.core.faults.fail_record_ids:
            failed.append(key)
        elif contact is None:
            missing.append(key)
        else:
            state.set_props(contact, dict(item["properties"]))
            names = [*item["properties"], "hs_object_id", "lastmodifieddate"]
            results.append(record_json(contact, names))
    return batch_response(results, _errors(missing, failed), now_iso())


def _owners(emu: HubSpotEmulator, request: Request, p: Paths) -> Response:
    q = request.query_params
    archived = q.get("archived", "false").lower() == "true"
    limit = int_param(q.get("limit"), "limit", 100, 500)
    after = int_param(q.get("after"), "after", 0)
    email = (q.get("email") or "").lower()
    rows = [
        o
        for o in emu.state.owners.values()
        if o.archived == archived and int(o.id) > after and (not email or o.email == email)
    ]
    rows.sort(key=lambda o: int(o.id))
    more = len(rows) > limit
    rows = rows[:limit]
    results = [
        {
            "id": o.id,
            "email": o.email,
            "firstName": o.first_name,
            "lastName": o.last_name,
            "userId": int(o.id) - 70000,
            "userIdIncludingInactive": int(o.id) - 70000,
            "type": "PERSON",
            "teams": [],
            "archived": o.archived,
            "createdAt": "2023-01-02T08:00:00.000Z",
            "updatedAt": "2025-06-01T08:00:00.000Z",
        }
        for o in rows
    ]
    return JSONResponse({"results": results, **paging(rows[-1].id if more else None, p.owners)})

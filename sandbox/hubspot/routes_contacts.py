"""CRM routes of the HubSpot emulator: contacts (get, list, search, create, update and archive
one, batch read / create / update / upsert / archive), contact properties (all, or one by name)
and owners (all, or one by id), for one path family."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mopsgate.connectors.hubspot.paths import Paths
from mopsgate.connectors.hubspot.query import contains_token
from mopsgate.connectors.schema import HUBSPOT_CONTACT
from mopsgate.sandbox.emulator_base import Gate
from mopsgate.sandbox.faults import Faults
from mopsgate.sandbox.hubspot import rules
from mopsgate.sandbox.hubspot.errors import (
    BadInput,
    hs_error,
    invalid_properties,
    not_found,
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
from mopsgate.sandbox.hubspot.state import Contact, PortalOwner, PortalState, now_iso
from mopsgate.sandbox.hubspot.wire import (
    batch_inputs,
    batch_response,
    int_param,
    json_body,
    paging,
    query_list,
)

SPECS = {s.name: s for s in HUBSPOT_CONTACT}
DEFAULT_PROPS = ("createdate", "email", "firstname", "lastname", "lastmodifieddate", "hs_object_id")
_FREE_TEXT = ("email", "firstname", "lastname", "company", "phone")


def record_json(
    contact: Contact, names: list[str] | None, defaults: tuple[str, ...] = DEFAULT_PROPS
) -> dict[str, Any]:
    wanted = names or list(defaults)
    props = {n: contact.props.get(n) for n in wanted if n in contact.props or n in defaults}
    return {
        "id": contact.id,
        "properties": props,
        "createdAt": contact.created_at,
        "updatedAt": contact.updated_at,
        "archived": False,
    }


class ContactRoutes:
    def __init__(self, state: PortalState, faults: Faults, p: Paths) -> None:
        self.state = state
        self.faults = faults
        self.p = p

    def requested(self, body: Any) -> list[str] | None:
        names = body.get("properties") if isinstance(body, dict) else None
        return [str(n) for n in names] if isinstance(names, list) and names else None

    def _key(self, request: Request) -> str:
        """The contact id in the path, or the id of the contact whose address it is
        (``?idProperty=email``)."""
        key = str(request.path_params["contact_id"])
        if request.query_params.get("idProperty") == "email":
            found = self.state.ids_by_email(key)
            key = found[0] if found else ""
        return key

    async def get_contact(self, request: Request) -> Response:
        key = self._key(request)
        contact = self.state.contact(key)
        if contact is None:
            return not_found(f"Object {key!r}")
        return JSONResponse(record_json(contact, query_list(request, "properties") or None))

    async def create(self, request: Request) -> Response:
        body = await json_body(request) or {}
        props = body.get("properties") if isinstance(body, dict) else None
        problems = validate_props(SPECS, props)
        if problems:
            return invalid_properties(problems)
        links = self._links(body.get("associations"))
        conflict = self._conflict([dict(props or {})])
        if conflict is not None:
            return conflict
        contact = rules.create_contact(self.state, dict(props or {}))
        for company, primary in links:
            self.state.link(contact.id, company, primary)
        return JSONResponse(record_json(contact, [*contact.props]), status_code=201)

    async def update(self, request: Request) -> Response:
        key = self._key(request)
        body = await json_body(request) or {}
        props = body.get("properties") if isinstance(body, dict) else None
        problems = validate_props(SPECS, props) or self._owner_problems(props)
        if problems:
            return invalid_properties(problems)
        if key in self.faults.fail_record_ids:
            return validation_error("Simulated record failure (emulator fault fail_record_ids)")
        if self.state.contact(key) is None:
            return not_found(f"Object {key!r}")
        rules.set_props(self.state, key, dict(props or {}))
        contact = self.state.contact(key)
        assert contact is not None  # just written, in the same transaction
        names = [*(props or {}), "hs_object_id", "lastmodifieddate"]
        return JSONResponse(record_json(contact, names))

    async def archive(self, request: Request) -> Response:
        key = str(request.path_params["contact_id"])
        if self.state.is_archived(key):
            return Response(status_code=204)  # archiving twice is no error
        if self.state.contact(key) is None:
            return not_found(f"Object {key!r}")
        rules.archive(self.state, key)
        return Response(status_code=204)

    def _links(self, associations: Any) -> list[tuple[str, bool]]:
        """A create's ``associations`` (companies only): (company id, primary) pairs, all
        checked before anything is written."""
        if associations is None:
            return []
        out: list[tuple[str, bool]] = []
        for item in associations if isinstance(associations, list) else [None]:
            to = item.get("to") if isinstance(item, dict) else None
            types = item.get("types") if isinstance(item, dict) else None
            company = str(to.get("id", "")) if isinstance(to, dict) else ""
            type_ids = {t.get("associationTypeId") for t in types or [] if isinstance(t, dict)}
            if self.state.company(company) is None or not type_ids or not type_ids <= {1, 279}:
                raise BadInput(
                    "associations must name existing companies ({to: {id}, types: "
                    "[{associationCategory: HUBSPOT_DEFINED, associationTypeId: 279 or 1}]})"
                )
            out.append((company, 1 in type_ids))
        return out

    def _conflict(self, props: list[dict[str, Any]]) -> Response | None:
        """HubSpot's 409 when an address already belongs to a contact (or twice to a batch)."""
        seen: set[str] = set()
        for values in props:
            email = values.get("email")
            if not isinstance(email, str) or not email:
                continue
            existing = self.state.ids_by_email(email)
            if existing or email.strip().lower() in seen:
                where = f"Existing ID: {existing[0]}" if existing else "twice in this batch"
                return hs_error(409, f"Contact already exists. {where}", "CONFLICT")
            seen.add(email.strip().lower())
        return None

    async def list_contacts(self, request: Request) -> Response:
        limit = int_param(request.query_params.get("limit"), "limit", 10, 100)
        after = int_param(request.query_params.get("after"), "after", 0)
        names = query_list(request, "properties") or None
        page = [c for c in ordered(self.state.contacts(), None) if int(c.id) > after]
        more = len(page) > limit
        page = page[:limit]
        body = {
            "results": [record_json(c, names) for c in page],
            **paging(page[-1].id if more else None, self.p.contacts),
        }
        return JSONResponse(body)

    async def search(self, request: Request) -> Response:
        return await search_answer(request, self.state.contacts(), _FREE_TEXT, DEFAULT_PROPS)

    async def batch_read(self, request: Request) -> Response:
        body = await json_body(request)
        inputs = batch_inputs(body)
        by_email = isinstance(body, dict) and body.get("idProperty") == "email"
        names, results, missing = self.requested(body), [], []
        for item in inputs:
            key = str(item.get("id", "")) if isinstance(item, dict) else ""
            if by_email:
                found = self.state.ids_by_email(key)
                key = found[0] if found else key
            contact = self.state.contact(key)
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

    async def batch_create(self, request: Request) -> Response:
        inputs = batch_inputs(await json_body(request))
        props = [i.get("properties") if isinstance(i, dict) else None for i in inputs]
        problems = [x for values in props for x in validate_props(SPECS, values)]
        if problems:
            return invalid_properties(problems)
        links = [self._links(i.get("associations")) for i in inputs]
        conflict = self._conflict([dict(v or {}) for v in props])
        if conflict is not None:
            return conflict
        results = []
        for values, pairs in zip(props, links, strict=True):
            contact = rules.create_contact(self.state, dict(values or {}))
            for company, primary in pairs:
                self.state.link(contact.id, company, primary)
            results.append(record_json(contact, [*contact.props]))
        return batch_response(results, [], now_iso(), empty_ok_status=201)

    async def batch_upsert(self, request: Request) -> Response:
        """Create or update by a unique property: ``email`` (or ``hs_object_id``, which only
        updates). Each result says whether it is ``new``."""
        inputs = batch_inputs(await json_body(request))
        problems: list[dict[str, Any]] = []
        for item in inputs:
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                raise BadInput("each input needs a string id, an idProperty and properties")
            if item.get("idProperty", "hs_object_id") not in ("email", "hs_object_id"):
                raise BadInput("idProperty must be a unique property: email or hs_object_id")
            problems += validate_props(SPECS, item.get("properties"))
        if problems:
            return invalid_properties(problems)
        results, missing = [], []
        for item in inputs:
            key, values = item["id"], dict(item.get("properties") or {})
            by_email = item.get("idProperty") == "email"
            found = self.state.ids_by_email(key) if by_email else [key]
            target = found[0] if found and self.state.contact(found[0]) else None
            if target is None and not by_email:
                missing.append(key)
                continue
            if target is None:
                contact = rules.create_contact(self.state, {**values, "email": key})
            else:
                rules.set_props(self.state, target, values)
                updated = self.state.contact(target)
                assert updated is not None  # just written, in the same transaction
                contact = updated
            names = [*values, "email", "hs_object_id", "lastmodifieddate"]
            results.append({**record_json(contact, names), "new": target is None})
        return batch_response(results, _errors(missing, []), now_iso())

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
            problems += validate_props(SPECS, item.get("properties"))
            problems += self._owner_problems(item.get("properties"))
        if problems:
            return invalid_properties(problems)
        return self._apply_updates(inputs)

    async def merge(self, request: Request) -> Response:
        """``POST contacts/merge`` {primaryObjectId, objectIdToMerge}: the merged primary."""
        body = await json_body(request)
        data = body if isinstance(body, dict) else {}
        primary, other = str(data.get("primaryObjectId", "")), str(data.get("objectIdToMerge", ""))
        if not primary or not other or primary == other:
            return validation_error("primaryObjectId and objectIdToMerge must name two contacts")
        if other in self.faults.fail_record_ids:
            return validation_error("Simulated record failure (emulator fault fail_record_ids)")
        for key in (primary, other):
            if self.state.contact(key) is None or self.state.is_archived(key):
                return not_found(f"Object {key!r}")
        rules.merge(self.state, primary, other)
        contact = self.state.contact(primary)
        assert contact is not None
        return JSONResponse(record_json(contact, [*contact.props]))

    def _owner_problems(self, props: Any) -> list[dict[str, Any]]:
        """HubSpot accepts as ``hubspot_owner_id`` only an owner of the portal that is not
        archived (deactivated users' owners are archived)."""
        value = props.get("hubspot_owner_id") if isinstance(props, dict) else None
        if not value or not isinstance(value, str):
            return []
        if any(o.id == value and not o.archived for o in self.state.owners()):
            return []
        return [
            {
                "isValid": False,
                "message": f"{value} is not a valid owner id",
                "error": "INVALID_OWNER_ID",
                "name": "hubspot_owner_id",
            }
        ]

    async def batch_archive(self, request: Request) -> Response:
        inputs = batch_inputs(await json_body(request))
        missing, failed = [], []
        for item in inputs:
            key = str(item.get("id", "")) if isinstance(item, dict) else ""
            if key in self.faults.fail_record_ids:
                failed.append(key)
            elif self.state.contact(key) is None:
                missing.append(key)
            else:
                rules.archive(self.state, key)
        errors = _errors(missing, failed)
        return batch_response([], errors, now_iso(), empty_ok_status=204)

    async def properties(self, request: Request) -> Response:
        missing = self.faults.missing_fields
        specs = [s for s in SPECS.values() if s.name not in missing]
        return JSONResponse({"results": [property_json(s) for s in specs]})

    async def property(self, request: Request) -> Response:
        spec = SPECS.get(request.path_params["name"])
        if spec is None:
            return not_found(f"Property {request.path_params['name']!r}")
        return JSONResponse(property_json(spec))

    def _apply_updates(self, inputs: list[Any]) -> Response:
        results, missing, failed = [], [], []
        for item in inputs:
            key = item["id"]
            if key in self.faults.fail_record_ids:
                failed.append(key)
            elif self.state.contact(key) is None:
                missing.append(key)
            else:
                rules.set_props(self.state, key, dict(item["properties"]))
                names = [*item["properties"], "hs_object_id", "lastmodifieddate"]
                contact = self.state.contact(key)
                if contact is not None:
                    results.append(record_json(contact, names))
        return batch_response(results, _errors(missing, failed), now_iso())

    async def owners(self, request: Request) -> Response:
        q = request.query_params
        archived = q.get("archived", "false").lower() == "true"
        limit = int_param(q.get("limit"), "limit", 100, 500)
        after = int_param(q.get("after"), "after", 0)
        email = (q.get("email") or "").lower()
        rows = [
            o
            for o in self.state.owners()
            if o.archived == archived and int(o.id) > after and (not email or o.email == email)
        ]
        more = len(rows) > limit
        rows = rows[:limit]
        next_after = rows[-1].id if more else None
        body = {"results": [_owner_json(o) for o in rows], **paging(next_after, self.p.owners)}
        return JSONResponse(body)

    async def owner(self, request: Request) -> Response:
        """One owner by id (or ``?idProperty=userId``), archived ones with ``archived=true``."""
        q, key = request.query_params, request.path_params["owner_id"]
        archived = q.get("archived", "false").lower() == "true"
        by_user = q.get("idProperty", "id") == "userId"
        for o in self.state.owners():
            mine = str(int(o.id) - 70000) if by_user else o.id
            if mine == key and o.archived == archived:
                return JSONResponse(_owner_json(o))
        return not_found(f"Owner {key!r}")


def routes(gate: Gate, state: PortalState, faults: Faults, p: Paths) -> list[Route]:
    r = ContactRoutes(state, faults, p)
    c = p.contacts
    return [
        gate.route(f"{c}/search", r.search, ["POST"]),
        gate.route(f"{c}/batch/read", r.batch_read, ["POST"]),
        gate.route(f"{c}/batch/update", r.batch_update, ["POST"], write=True),
        gate.route(f"{c}/batch/archive", r.batch_archive, ["POST"], write=True),
        gate.route(f"{c}/merge", r.merge, ["POST"], write=True),
        gate.route(f"{c}/batch/create", r.batch_create, ["POST"], write=True),
        gate.route(f"{c}/batch/upsert", r.batch_upsert, ["POST"], write=True),
        gate.route(c, r.list_contacts),
        gate.route(c, r.create, ["POST"], write=True),
        gate.route(c + "/{contact_id}", r.get_contact),
        gate.route(c + "/{contact_id}", r.update, ["PATCH"], write=True),
        gate.route(c + "/{contact_id}", r.archive, ["DELETE"], write=True),
        gate.route(p.contact_properties, r.properties),
        gate.route(p.contact_properties + "/{name}", r.property),
        gate.route(p.owners, r.owners),
        gate.route(p.owners + "/", r.owners),
        gate.route(p.owners + "/{owner_id}", r.owner),
    ]


async def search_answer(
    request: Request,
    records: Iterable[Contact],
    text_fields: tuple[str, ...],
    defaults: tuple[str, ...],
) -> Response:
    """A CRM search over ``records`` (contacts or companies): filter groups, the free-text
    ``query`` over ``text_fields``, sorts, and the page the body asks for."""
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
            for c in records
            if matches(c, groups)
            and (not text or any(contains_token(c.props.get(f) or "", text) for f in text_fields))
        ]
    except SearchError as exc:
        return validation_error(str(exc))
    hits = ordered(hits, body.get("sorts"))
    end = min(offset + limit, SEARCH_CEILING, len(hits))
    names = body.get("properties")
    wanted = [str(n) for n in names] if isinstance(names, list) and names else None
    out: dict[str, Any] = {
        "total": len(hits),
        "results": [record_json(c, wanted, defaults) for c in hits[offset:end]],
    }
    if end < min(len(hits), SEARCH_CEILING):
        out["paging"] = {"next": {"after": str(end), "link": None}}
    return JSONResponse(out)


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


def _owner_json(o: PortalOwner) -> dict[str, Any]:
    return {
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

"""CRM search semantics and property validation of the emulated portal.

Kept apart from the routes so the filter rules (OR of groups, AND inside a group, HubSpot's
caps) can be read in one place and match what the client builds.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from mopsgate.connectors.hubspot.query import contains_token
from mopsgate.connectors.schema import FieldSpec
from mopsgate.sandbox.hubspot.state import Contact, Props

MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 10, 25
MAX_SEARCH_LIMIT, SEARCH_CEILING = 200, 10_000

_HS_TYPES: dict[str, tuple[str, str]] = {
    "string": ("string", "text"),
    "email": ("string", "text"),
    "phone": ("string", "phonenumber"),
    "integer": ("number", "number"),
    "float": ("number", "number"),
    "boolean": ("bool", "booleancheckbox"),
    "datetime": ("datetime", "date"),
    "text": ("string", "textarea"),
    "picklist": ("enumeration", "select"),
    "reference": ("enumeration", "select"),
}


class SearchError(ValueError):
    """A request HubSpot would refuse with 400 VALIDATION_ERROR."""


def property_json(spec: FieldSpec) -> dict[str, Any]:
    hs_type, field_type = _HS_TYPES[spec.type]
    options: list[dict[str, Any]] = [
        {"label": v, "value": v, "displayOrder": i, "hidden": False}
        for i, v in enumerate(spec.picklist)
    ]
    if spec.type == "boolean":
        options = [
            {"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False},
            {"label": "No", "value": "false", "displayOrder": 1, "hidden": False},
        ]
    body: dict[str, Any] = {
        "name": spec.name,
        "label": spec.label,
        "type": hs_type,
        "fieldType": field_type,
        "groupName": "contactinformation",
        "description": "",
        "options": options,
        "hidden": False,
        "hasUniqueValue": spec.name == "email",
        "hubspotDefined": True,
        "calculated": False,
        "formField": not spec.read_only,
        "modificationMetadata": {
            "readOnlyValue": spec.read_only,
            "readOnlyDefinition": True,
            "archivable": False,
        },
        "dataSensitivity": "sensitive" if spec.pii else "non_sensitive",
        "createdAt": "2019-08-06T02:41:52.000Z",
        "updatedAt": "2024-01-01T00:00:00.000Z",
        "archived": False,
    }
    if spec.type == "reference":
        body["referencedObjectType"] = "OWNER"
    return body


def validate_props(specs: dict[str, FieldSpec], props: Any) -> list[dict[str, Any]]:
    """HubSpot's per-property validation messages; an empty list means the input is valid."""
    if not isinstance(props, dict):
        return [
            {
                "isValid": False,
                "message": "properties must be an object",
                "error": "INVALID_INPUT",
                "name": "",
            }
        ]
    problems: list[dict[str, Any]] = []
    for name, value in props.items():
        spec = specs.get(name)
        if spec is None:
            problems.append(
                _bad(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
            )
        elif spec.read_only:
            problems.append(
                _bad(
                    name,
                    "READ_ONLY_VALUE",
                    f"{name} is a read only property; its value cannot be set.",
                )
            )
        elif not isinstance(value, str):
            problems.append(_bad(name, "INVALID_TYPE", f"{name} values must be strings"))
        elif value != "" and not _valid_value(spec, value):
            problems.append(
                _bad(
                    name,
                    "INVALID_OPTION",
                    f"{value!r} was not one of the allowed options for {name}",
                )
            )
    return problems


def _valid_value(spec: FieldSpec, value: str) -> bool:
    if spec.type == "picklist":
        return value in spec.picklist
    if spec.type == "boolean":
        return value in ("true", "false")
    if spec.type in ("integer", "float"):
        return re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value) is not None
    return True


def _bad(name: str, error: str, message: str) -> dict[str, Any]:
    return {"isValid": False, "message": message, "error": error, "name": name}


# search ----------------------------------------------------------------------------------
def check_groups(groups: Any) -> list[list[dict[str, Any]]]:
    if not isinstance(groups, list):
        raise SearchError("filterGroups must be an array")
    total = 0
    out: list[list[dict[str, Any]]] = []
    for group in groups:
        filters = group.get("filters", []) if isinstance(group, dict) else None
        if not isinstance(filters, list):
            raise SearchError("each filter group needs a filters array")
        if len(filters) > MAX_FILTERS_PER_GROUP:
            raise SearchError(
                f"Too many filters in a group: {len(filters)} (max {MAX_FILTERS_PER_GROUP})"
            )
        total += len(filters)
        out.append([_prepared(f) for f in filters])
    if len(out) > MAX_GROUPS or total > MAX_FILTERS:
        raise SearchError(
            f"Too many filter groups or filters: {len(out)} groups, {total} "
            f"filters (max {MAX_GROUPS} groups, {MAX_FILTERS} filters)"
        )
    return out


_WANTED = "_wanted"  # an IN / NOT_IN filter's values as matched, set once per search


def _prepared(flt: Any) -> Any:
    """An IN or NOT_IN filter with its values lower-cased into a set once, not once for each
    record the search looks at (an IN of 100 addresses over thousands of contacts)."""
    if not isinstance(flt, dict) or flt.get("operator") not in ("IN", "NOT_IN"):
        return flt
    values = flt.get("values", [])
    if not isinstance(values, list):
        return flt
    return {**flt, _WANTED: frozenset(str(v).lower() for v in values)}


def matches(contact: Contact, groups: list[list[dict[str, Any]]]) -> bool:
    if not groups:
        return True
    return any(all(_filter(contact.props, f) for f in group) for group in groups)


def _filter(props: Props, flt: dict[str, Any]) -> bool:
    name, op = flt.get("propertyName"), flt.get("operator", "EQ")
    value = props.get(str(name))
    target = str(flt.get("value", ""))
    if op == "HAS_PROPERTY":
        return value is not None
    if op == "NOT_HAS_PROPERTY":
        return value is None
    if op in ("IN", "NOT_IN"):
        wanted = flt.get(_WANTED)
        if wanted is None:
            wanted = {str(v).lower() for v in flt.get("values", [])}
        found = value is not None and value.lower() in wanted
        return found if op == "IN" else not found
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        found = value is not None and contains_token(value, target)
        return found if op == "CONTAINS_TOKEN" else not found
    if op == "EQ":
        return value is not None and value.lower() == target.lower()
    if op == "NEQ":
        return value is None or value.lower() != target.lower()
    if op in ("GT", "GTE", "LT", "LTE"):
        return value is not None and _compare(value, target, op)
    raise SearchError(f"Unsupported operator {op!r}")


def _compare(value: str, target: str, op: str) -> bool:
    try:
        a: float | str = float(value)
        b: float | str = float(target)
    except ValueError:
        a, b = value, target
    if isinstance(a, float) and isinstance(b, float):
        return {"GT": a > b, "GTE": a >= b, "LT": a < b, "LTE": a <= b}[op]
    sa, sb = str(a), str(b)
    return {"GT": sa > sb, "GTE": sa >= sb, "LT": sa < sb, "LTE": sa <= sb}[op]


def sort_key(props_name: str) -> Any:
    def key(contact: Contact) -> Any:
        value = contact.props.get(props_name)
        if props_name == "hs_object_id":
            return int(contact.id)
        return (value is None, value or "")

    return key


def ordered(contacts: Iterable[Contact], sorts: Any) -> list[Contact]:
    items = list(contacts)
    spec = sorts[0] if isinstance(sorts, list) and sorts else None
    if isinstance(spec, dict) and spec.get("propertyName"):
        reverse = spec.get("direction", "ASCENDING") == "DESCENDING"
        items.sort(key=sort_key(str(spec["propertyName"])), reverse=reverse)
    else:
        items.sort(key=lambda c: int(c.id))
    return items

"""Vendor records are checked against the field catalogue before anything uses them (catalogue
U-12).

A vendor (or a proxy, or a half-deployed API version) can answer with records that drifted from
the schema: no id, an id given twice in one answer, a field of another type, fields nobody
asked for. Used as they come, a duplicate decides which of two versions a plan's fingerprint
holds, a missing id crashes the read, and a consent flag that arrives as the text ``"false"``
or ``"no"`` instead of a boolean reads as "not opted out". So every person record passes
through :func:`checked_person` on its way into the common model: fields the catalogue does
not know are dropped, and a missing id or a value of the wrong type makes the whole answer
``MalformedResponse`` (nothing of it is used, so no plan can be made from it). One answer that
holds the same record twice is refused by :func:`unique`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mopsgate.connectors.consent import consent_from_fields
from mopsgate.connectors.schema import PERSON_OBJECTS, FieldType
from mopsgate.crm.errors import MalformedResponse
from mopsgate.crm.records import Person
from mopsgate.crm.refs import make_ref

_TEXT = (str,)
_ACCEPTS: dict[FieldType, tuple[type, ...]] = {
    "string": _TEXT,
    "email": _TEXT,
    "phone": _TEXT,
    "text": _TEXT,
    "picklist": _TEXT,
    "datetime": _TEXT,
    "reference": (str, int),
    "integer": (int,),
    "float": (int, float),
    "boolean": (bool,),
}


def checked_person(vendor: str, obj: str, native_id: object, fields: Mapping[str, Any]) -> Person:
    """The record as a :class:`Person`, or ``MalformedResponse`` if it drifted from the schema."""
    if isinstance(native_id, bool) or not isinstance(native_id, str | int) or native_id == "":
        raise MalformedResponse(vendor, f"answered a {obj} record without an id")
    ref = make_ref(vendor, obj, native_id)
    kept: dict[str, Any] = {}
    for spec in PERSON_OBJECTS[vendor][obj]:
        value = fields.get(spec.name)
        accepted = _ACCEPTS[spec.type]
        if value is not None and (
            not isinstance(value, accepted) or (isinstance(value, bool) and bool not in accepted)
        ):
            raise MalformedResponse(
                vendor,
                f"answered {ref} with {spec.name} as {type(value).__name__} where the schema "
                f"has {spec.type}",
            )
        kept[spec.name] = value
    return Person(ref=ref, object=obj, fields=kept, consent=consent_from_fields(vendor, obj, kept))


def unique(vendor: str, people: Iterable[Person]) -> list[Person]:
    """``people`` from one answer, refused if it holds the same record twice."""
    out: list[Person] = []
    seen: set[str] = set()
    for person in people:
        if person.ref in seen:
            raise MalformedResponse(vendor, f"answered {person.ref} twice in one response")
        seen.add(person.ref)
        out.append(person)
    return out

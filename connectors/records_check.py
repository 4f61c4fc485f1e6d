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
from functools import cache
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


@cache
def _plan(vendor: str, obj: str) -> tuple[tuple[str, FieldType, frozenset[type]], ...]:
    """Each field of the object with its type and the value types it accepts as they are:
    decided once, since every record of every scan asks. A value of any other type (a
    subclass, a bool where a number is due) takes the full check in ``_accepts``."""
    return tuple(
        (spec.name, spec.type, frozenset(_ACCEPTS[spec.type]))
        for spec in PERSON_OBJECTS[vendor][obj]
    )


def _accepts(type_: FieldType, value: object) -> bool:
    accepted = _ACCEPTS[type_]
    return isinstance(value, accepted) and (not isinstance(value, bool) or bool in accepted)


def checked_person(vendor: str, obj: str, native_id: object, fields: Mapping[str, Any]) -> Person:
    """The record as a :class:`Person`, or ``MalformedResponse`` if it drifted from the schema."""
    if isinstance(native_id, bool) or not isinstance(native_id, str | int) or native_id == "":
        raise MalformedResponse(vendor, f"answered a {obj} record without an id")
    ref = make_ref(vendor, obj, native_id)
    kept: dict[str, Any] = {}
    for name, type_, exact in _plan(vendor, obj):
        value = fields.get(name)
        if value is not None and type(value) not in exact and not _accepts(type_, value):
            raise MalformedResponse(
                vendor,
                f"answered {ref} with {name} as {type(value).__name__} where the schema "
                f"has {type_}",
            )
        kept[name] = value
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

"""Builds the governance catalogue (what tools, objects and fields exist) from the tool specs and
the connectors' field tables.

It lives in the composition root because it joins two packages that must not know each other:
the tools (their names, risk classes and connector needs) and the vendors' field tables."""

from __future__ import annotations

from functools import cache

from mopsgate.connectors.capabilities import capabilities_of
from mopsgate.connectors.schema import OTHER_OBJECTS, PERSON_OBJECTS
from mopsgate.governance.catalogue import Catalogue, ObjectFields
from mopsgate.tools.registry import SPECS
from mopsgate.tools.spec import ConnectorNeed


@cache
def build_catalogue() -> Catalogue:
    objects: dict[str, dict[str, ObjectFields]] = {}
    for connector, persons in PERSON_OBJECTS.items():
        objs: dict[str, ObjectFields] = {}
        for obj, specs in persons.items():
            objs[obj] = ObjectFields(
                fields=frozenset(s.name for s in specs),
                pii=frozenset(s.name for s in specs if s.pii),
                consent=frozenset(s.name for s in specs if s.consent),
                read_only=frozenset(s.name for s in specs if s.read_only),
                lifecycle=frozenset(s.name for s in specs if s.lifecycle),
            )
        for obj in OTHER_OBJECTS[connector]:
            objs[obj] = ObjectFields(fields=frozenset())
        objects[connector] = objs
    return Catalogue(
        tools={spec.name: spec.risk for spec in SPECS},
        objects=objects,
        connectorless_tools=frozenset(
            spec.name for spec in SPECS if spec.needs is not ConnectorNeed.ARGUMENT
        ),
        list_objects={c: frozenset(capabilities_of(c).list_objects) for c in PERSON_OBJECTS},
        person_objects={c: tuple(persons) for c, persons in PERSON_OBJECTS.items()},
        roles={
            c: {
                obj: {s.role: s.name for s in reversed(specs) if s.role != "none"}
                for obj, specs in persons.items()
            }
            for c, persons in PERSON_OBJECTS.items()
        },
        capabilities={c: capabilities_of(c) for c in PERSON_OBJECTS},
    )

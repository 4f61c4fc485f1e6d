"""Builds the governance catalogue (what tools, objects and fields exist) from the tool specs and
the connectors' field tables.

It lives in the composition root because it joins two packages that must not know each other:
the tools (their names, risk classes and connector needs) and the vendors' field tables."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from mopsgate.connectors.capabilities import capabilities_of
from mopsgate.connectors.schema import OTHER_OBJECTS, PERSON_OBJECTS
from mopsgate.governance.catalogue import Catalogue, ObjectFields
from mopsgate.governance.risk import RiskClass
from mopsgate.tools.spec import ConnectorNeed, Spec


@cache
def build_catalogue() -> Catalogue:
    """The catalogue of every tool mopsgate has (imports them all)."""
    from mopsgate.tools.registry import SPECS

    return catalogue_of(SPECS)


def catalogue_of(tools: Iterable[Spec]) -> Catalogue:
    """The catalogue of these tools: only their names, risk classes and connector needs are
    read, so the stand-ins of a remembered listing (``tool_index.py``) serve as well. The same
    tools give the same catalogue object, so that a manifest text loaded against it once is
    not loaded again (``manifest_load.load_manifest_text``)."""
    return _catalogue(tuple((s.name, s.risk, s.needs) for s in tools))


@cache
def _catalogue(tools: tuple[tuple[str, RiskClass, ConnectorNeed], ...]) -> Catalogue:
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
        tools={name: risk for name, risk, _ in tools},
        objects=objects,
        connectorless_tools=frozenset(
            name for name, _, needs in tools if needs is not ConnectorNeed.ARGUMENT
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

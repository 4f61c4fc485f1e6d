"""Record references: ``"<connector>:<object>:<id>"``, the one way records are named across
connectors, plans, audit rows and tool arguments.

``parse_ref`` is the one parser: every layer that needs a part of a reference (the pipeline's
target, a tool's kind check, the planner's grouping, a vendor client's id check) calls it
rather than splitting the text itself, so the shape is defined, and refused, in one place.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# What a tool accepts as a reference (its published input schema) and what the audit log counts
# as one in a result: a known connector, an object name, an id safe to put in a URL.
REF_PATTERN = r"^(marketo|hubspot|salesforce):[A-Za-z_]{1,40}:[A-Za-z0-9-]{1,64}$"
REF_RE = re.compile(REF_PATTERN)


class RecordRef(NamedTuple):
    """A parsed reference; unpacks as ``connector, obj, native = parse_ref(text)``."""

    connector: str
    object: str
    id: str

    def __str__(self) -> str:
        return make_ref(self.connector, self.object, self.id)


def make_ref(connector: str, obj: str, native_id: str | int) -> str:
    return f"{connector}:{obj}:{native_id}"


def parse_ref(ref: str) -> RecordRef:
    """Split ``"<connector>:<object>:<id>"``; raises ValueError with the expected shape."""
    parts = ref.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise ValueError(
            f"record reference {ref!r} is not of the form '<connector>:<object>:<id>', "
            "e.g. 'hubspot:contact:1051'"
        )
    return RecordRef(parts[0], parts[1], parts[2])


def connector_of(ref: str) -> str | None:
    """The connector a reference names, or None when it is not a reference at all."""
    try:
        return parse_ref(ref).connector
    except ValueError:
        return None

"""Record references: ``"<connector>:<object>:<id>"``, the one way records are named across
connectors, plans, audit rows and tool arguments."""

from __future__ import annotations


def make_ref(connector: str, obj: str, native_id: str | int) -> str:
    return f"{connector}:{obj}:{native_id}"


def parse_ref(ref: str) -> tuple[str, str, str]:
    """Split ``"<connector>:<object>:<id>"``; raises ValueError with the expected shape."""
    parts = ref.split(":", 2)
    if len(parts) != 3 or not all(parts):
        raise ValueError(
            f"record reference {ref!r} is not of the form '<connector>:<object>:<id>', "
            "e.g. 'hubspot:contact:1051'"
        )
    return parts[0], parts[1], parts[2]

"""How many vendor calls a tool call made, for its audit row.

The pipeline opens a meter around each tool; the one HTTP chokepoint (``connectors/http.py``)
counts every attempt into it. A context variable carries it because the count crosses from the
pipeline to the chokepoint through code (tools, the core, vendor clients) that has no reason to
know about it; it is the only one between them.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

_calls: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "mopsgate_upstream_calls", default=None
)


class Meter:
    def __init__(self) -> None:
        self._box = [0]

    @property
    def calls(self) -> int:
        return self._box[0]


@contextmanager
def metering() -> Iterator[Meter]:
    """Count the vendor calls made inside the block (nested meters count only their own)."""
    meter = Meter()
    token = _calls.set(meter._box)
    try:
        yield meter
    finally:
        _calls.reset(token)


def count_call() -> None:
    """Called by the HTTP chokepoint once per attempt; outside a meter it counts nothing."""
    box = _calls.get()
    if box is not None:
        box[0] += 1

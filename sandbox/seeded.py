"""Fresh in-memory vendor states loaded from the seed.

Loading the default seed into a vendor's state takes tens of milliseconds (thousands of
records, each mapped to the vendor's shape) and every emulator — every runtime, every test —
starts from a fresh one. So the default seed is loaded once per process and kept untouched,
and each later state is its ``copy()``: every record, list and index of its own, sharing only
the values nothing can change in place (strings, numbers, frozen records). That is 2-4x
cheaper than unpickling the state, as this module did, which made every one of its ~60,000
values again: unpickling was 13-18% of the CPU of the in-memory server tests that use all
three vendors. tests/sandbox/test_seeded_copies.py checks each copy against the state it was
copied from: same data, no mutable object shared, aliases kept. Another seed (other people,
another size) is loaded directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, Self, TypeVar, cast

from mopsgate.sandbox.seed import seed_data
from mopsgate.sandbox.seed_model import SeedData


class Copies(Protocol):
    def copy(self) -> Self: ...


S = TypeVar("S", bound=Copies)

_LOADED: dict[str, Copies] = {}  # vendor -> its state loaded from the default seed, kept as is


def seeded_state(
    vendor: str, seed: SeedData, empty: Callable[[], S], load: Callable[[S, SeedData], None]
) -> S:
    """A fresh state of ``vendor`` holding ``seed`` (``empty()`` filled by ``load``)."""
    if seed is not seed_data():
        state = empty()
        load(state, seed)
        return state
    loaded = _LOADED.get(vendor)
    if loaded is None:
        state = empty()
        load(state, seed)
        _LOADED[vendor] = loaded = state
    return cast(S, loaded.copy())

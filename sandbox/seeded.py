"""Fresh in-memory vendor states loaded from the seed.

Loading the default seed into a vendor's state takes tens of milliseconds (thousands of
records, each mapped to the vendor's shape) and every emulator — every runtime, every test —
starts from a fresh one. So the default seed is loaded once per process and pickled, and each
later state is unpickled from those bytes: about four times cheaper, and still a state of its
own that nothing else shares. Another seed (other people, another size) is loaded directly.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import TypeVar, cast

from mopsgate.sandbox.seed import seed_data
from mopsgate.sandbox.seed_model import SeedData

S = TypeVar("S")

_LOADED: dict[str, bytes] = {}  # vendor -> its state loaded from the default seed, pickled


def seeded_state(
    vendor: str, seed: SeedData, empty: Callable[[], S], load: Callable[[S, SeedData], None]
) -> S:
    """A fresh state of ``vendor`` holding ``seed`` (``empty()`` filled by ``load``)."""
    if seed is not seed_data():
        state = empty()
        load(state, seed)
        return state
    if vendor not in _LOADED:
        state = empty()
        load(state, seed)
        _LOADED[vendor] = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    # the bytes were made in this process, from our own objects: never read from outside
    return cast(S, pickle.loads(_LOADED[vendor]))  # noqa: S301

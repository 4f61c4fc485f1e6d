"""Every in-memory emulator starts from a copy of the seed's loaded state (``sandbox/seeded.py``),
made by the state's own ``copy()``, which shares the values nothing can change in place. A
copy that shared a dict, a list, a set or a mutable record with the state it was copied from
would carry one test's writes into the next test's emulator; one that lost an alias (a list
object and its ``members`` view) would make writes vanish from one of them. These tests walk
every object of each vendor's loaded state and of a fresh copy, side by side."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from mopsgate.sandbox import seeded
from mopsgate.sandbox.vendors import new_emulator

VENDORS = ("marketo", "hubspot", "salesforce")
Path = tuple[object, ...]
SHARED = (str, int, float, bool, type(None), bytes, dt.datetime, dt.date)


def immutable(value: Any) -> bool:
    """Nothing can change it in place: plain values, tuples and frozensets of them, frozen
    dataclasses whose fields are all immutable, and functions (a clock)."""
    if isinstance(value, SHARED) or callable(value):
        return True
    if isinstance(value, tuple | frozenset):
        return all(immutable(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        frozen = type(value).__dataclass_params__.frozen  # type: ignore[attr-defined]
        return bool(frozen) and all(immutable(v) for v in vars(value).values())
    return False


def walk(value: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """(path, object) for every object reachable from ``value``; dict keys are paths."""
    yield path, value
    if isinstance(value, SHARED) or callable(value):
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, (*path, k))
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            yield from walk(v, (*path, i))
    elif isinstance(value, set | frozenset):
        for v in sorted(value, key=repr):
            yield from walk(v, (*path, ("member", repr(v))))
    elif hasattr(value, "__dict__"):
        for k, v in vars(value).items():
            yield from walk(v, (*path, f".{k}"))


def plain(value: Any) -> Any:
    """The data only, to compare two states."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(map(repr, value))
    if hasattr(value, "__dict__") and not callable(value):
        return (type(value).__name__, plain(vars(value)))
    return value


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_fresh_state_holds_the_seed_and_shares_nothing_that_can_change(vendor):
    fresh = new_emulator(vendor).state
    loaded = seeded._LOADED[vendor]
    assert fresh is not loaded
    assert plain(fresh) == plain(loaded)
    original = dict(walk(loaded))
    mutable_ids = {id(v) for v in original.values() if not immutable(v)}
    shared = [path for path, v in walk(fresh) if id(v) in mutable_ids]
    assert shared == []
    # An object reached by two paths in the loaded state (a list and its members view) is one
    # object in the copy too.
    first: dict[int, Path] = {}
    copied = dict(walk(fresh))
    for path, v in original.items():
        if immutable(v):
            continue
        if id(v) in first:
            assert copied[path] is copied[first[id(v)]], (path, first[id(v)])
        else:
            first[id(v)] = path


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_write_to_one_emulator_is_not_in_the_next(vendor):
    """What a user of two runtimes would see: a change made through one emulator's state is
    not in a second emulator, nor in the state they were copied from."""
    one, two = new_emulator(vendor).state, new_emulator(vendor).state
    record = next(
        v
        for path, v in walk(one)
        if len(path) > 2 and type(v) is dict and v and all(map(immutable, v.values()))
    )
    record[next(iter(record))] = "changed through the first emulator"
    assert plain(two) == plain(seeded._LOADED[vendor])
    assert plain(one) != plain(two)

"""How state values are kept in the sandbox file: JSON text, datetimes tagged so they come back
as datetimes, dataclasses as their fields (minus the live views the store gives them)."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")
_DT = "$datetime"


def dump(value: Any) -> str:
    return _ENCODER.encode(value)


def load(text: str) -> Any:
    return _DECODER.decode(text)


def dump_fields(obj: Any, *, skip: tuple[str, ...] = ()) -> str:
    """A dataclass's fields as JSON, leaving out ``skip`` (members kept in their own table)."""
    return dump(
        {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj) if f.name not in skip}
    )


def load_fields(cls: type[T], text: str, **extra: Any) -> T:
    return cls(**load(text), **extra)


def _tag(value: Any) -> Any:
    if isinstance(value, datetime):
        return {_DT: value.isoformat()}
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__}")


def _untag(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _DT in obj:
        return datetime.fromisoformat(obj[_DT])
    return obj


# Made once: json.loads/dumps with a hook build a new coder on every call.
_ENCODER = json.JSONEncoder(default=_tag, ensure_ascii=False, separators=(",", ":"))
_DECODER = json.JSONDecoder(object_hook=_untag)

"""The data-access record: which records a call returned or acted on, for the audit row.

"Who or what saw this person, when, under which use case" must be answerable from the log, so
every read records the references of the records in its result, and every proposal the records
its plan targets. The list is bounded per call: a read's result is already capped by its page
size, and the bound keeps one row from growing without limit; what is left out is counted.
"""

from __future__ import annotations

from mopsgate.crm.refs import REF_RE
from mopsgate.governance.audit_chain import MAX_RECORDS

_CONTAINERS = (dict, list, tuple)
# What a key names: 1 one reference (``ref``, ``*_ref``), 2 a list of them (``refs``,
# ``*_refs``), 0 neither. Results repeat the same few field names on every call, so each is
# judged once; the table is bounded, and a key beyond it is judged every time.
_KEY_KINDS: dict[str, int] = {}
_MAX_KEYS = 4096


def _key_kind(key: str) -> int:
    kind = _KEY_KINDS.get(key)
    if kind is None:
        if key == "ref" or key.endswith("_ref"):
            kind = 1
        elif key == "refs" or key.endswith("_refs"):
            kind = 2
        else:
            kind = 0
        if len(_KEY_KINDS) < _MAX_KEYS:
            _KEY_KINDS[key] = kind
    return kind


def _collect(value: object, key: str, seen: dict[str, None]) -> None:
    """Every reference under ``value``, in order of appearance, into ``seen``. A plain
    recursion rather than nested generators, with each key judged once (``_key_kind``): it
    runs over every read's result on the hot path, where a generator per node cost as much as
    the rest of the audit row."""
    match = REF_RE.match
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str):
                kind = _KEY_KINDS.get(k) if type(k) is str else None
                if (kind if kind is not None else _key_kind(str(k))) == 1 and match(v):
                    seen.setdefault(v, None)
            elif isinstance(v, _CONTAINERS):
                _collect(v, str(k), seen)
    elif isinstance(value, list | tuple):
        if _key_kind(key) == 2:  # a list of references: its own strings first, then nested ones
            for v in value:
                if isinstance(v, str) and match(v):
                    seen.setdefault(v, None)
        for v in value:
            if isinstance(v, _CONTAINERS):
                _collect(v, key, seen)
    elif isinstance(value, str) and _key_kind(key) == 1 and match(value):
        seen.setdefault(value, None)


def record_refs(data: object, limit: int = MAX_RECORDS) -> tuple[tuple[str, ...], int]:
    """The distinct record references in a tool result (fields named ``ref``, ``*_ref``,
    ``refs``, ``*_refs``, at any depth), in order of appearance, at most ``limit``; and how
    many more there were."""
    seen: dict[str, None] = {}
    _collect(data, "", seen)
    refs = tuple(seen)
    return refs[:limit], max(0, len(refs) - limit)

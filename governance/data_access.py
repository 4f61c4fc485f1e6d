"""The data-access record: which records a call returned or acted on, for the audit row.

"Who or what saw this person, when, under which use case" must be answerable from the log, so
every read records the references of the records in its result, and every proposal the records
its plan targets. The list is bounded per call: a read's result is already capped by its page
size, and the bound keeps one row from growing without limit; what is left out is counted.
"""

from __future__ import annotations

from mopsgate.crm.refs import REF_RE
from mopsgate.governance.audit_chain import MAX_RECORDS


def _is_ref_key(key: str) -> bool:
    return key == "ref" or key.endswith("_ref")


def _is_refs_key(key: str) -> bool:
    return key == "refs" or key.endswith("_refs")


def _collect(value: object, key: str, seen: dict[str, None]) -> None:
    """Every reference under ``value``, in order of appearance, into ``seen``. A plain
    recursion rather than nested generators: it runs over every read's result on the hot path,
    where a generator per node cost as much as the rest of the audit row."""
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str):
                k = str(k)
                if (k == "ref" or k.endswith("_ref")) and REF_RE.match(v):
                    seen.setdefault(v, None)
            elif isinstance(v, dict | list | tuple):
                _collect(v, str(k), seen)
    elif isinstance(value, list | tuple):
        if _is_refs_key(key):  # a list of references: its own strings first, then nested ones
            for v in value:
                if isinstance(v, str) and REF_RE.match(v):
                    seen.setdefault(v, None)
        for v in value:
            if isinstance(v, dict | list | tuple):
                _collect(v, key, seen)
    elif isinstance(value, str) and _is_ref_key(key) and REF_RE.match(value):
        seen.setdefault(value, None)


def record_refs(data: object, limit: int = MAX_RECORDS) -> tuple[tuple[str, ...], int]:
    """The distinct record references in a tool result (fields named ``ref``, ``*_ref``,
    ``refs``, ``*_refs``, at any depth), in order of appearance, at most ``limit``; and how
    many more there were."""
    seen: dict[str, None] = {}
    _collect(data, "", seen)
    refs = tuple(seen)
    return refs[:limit], max(0, len(refs) - limit)

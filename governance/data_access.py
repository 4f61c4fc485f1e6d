"""The data-access record: which records a call returned or acted on, for the audit row.

"Who or what saw this person, when, under which use case" must be answerable from the log, so
every read records the references of the records in its result, and every proposal the records
its plan targets. The list is bounded per call: a read's result is already capped by its page
size, and the bound keeps one row from growing without limit; what is left out is counted.
"""

from __future__ import annotations

from collections.abc import Iterable

from mopsgate.crm.refs import REF_RE
from mopsgate.governance.audit_chain import MAX_RECORDS


def _is_ref_key(key: str) -> bool:
    return key == "ref" or key.endswith("_ref")


def _is_refs_key(key: str) -> bool:
    return key == "refs" or key.endswith("_refs")


def _walk(value: object, key: str = "") -> Iterable[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, str(k))
    elif isinstance(value, list | tuple):
        if _is_refs_key(key):
            yield from (v for v in value if isinstance(v, str))
        for v in value:
            if not isinstance(v, str):
                yield from _walk(v, key)
    elif isinstance(value, str) and _is_ref_key(key):
        yield value


def record_refs(data: object, limit: int = MAX_RECORDS) -> tuple[tuple[str, ...], int]:
    """The distinct record references in a tool result (fields named ``ref``, ``*_ref``,
    ``refs``, ``*_refs``, at any depth), in order of appearance, at most ``limit``; and how
    many more there were."""
    seen: dict[str, None] = {}
    for ref in _walk(data):
        if REF_RE.match(ref):
            seen.setdefault(ref, None)
    refs = tuple(seen)
    return refs[:limit], max(0, len(refs) - limit)

"""The WHERE clause of ``mopsgate audit query``, one text for both backends (they differ only
in the parameter mark: ``?`` on SQLite, ``%s`` on PostgreSQL).

``--record`` is one set of seqs: the rows whose data-access record lists the reference and every
row of a change that targets it, each part driven by an index (``audit_records``' key,
``audit_log_change``), so the answer costs the person's rows, not the size of the log.
"""

from __future__ import annotations

from mopsgate.governance.audit_chain import format_ts
from mopsgate.governance.audit_query import AuditQuery

_EQUAL = ("principal", "use_case", "tool", "change_id", "decision")
_RECORD_SEQS = (
    "seq IN (SELECT seq FROM audit_records WHERE ref = {m} "
    "UNION SELECT c.seq FROM audit_log c WHERE c.change_id IN ("
    "SELECT a.change_id FROM audit_records r JOIN audit_log a ON a.seq = r.seq "
    "WHERE r.ref = {m} AND a.change_id IS NOT NULL))"
)


def query_where(query: AuditQuery, after: int, mark: str) -> tuple[str, list[object]]:
    """``clause AND clause ... AND seq > after`` and its parameters, in order."""
    clauses: list[str] = []
    params: list[object] = []
    for column in _EQUAL:
        value = getattr(query, column)
        if value is not None:
            clauses.append(f"{column} = {mark}")
            params.append(value)
    if query.since is not None:
        clauses.append(f"ts >= {mark}")
        params.append(format_ts(query.since))
    if query.until is not None:
        clauses.append(f"ts <= {mark}")
        params.append(format_ts(query.until))
    if query.record is not None:
        clauses.append(_RECORD_SEQS.format(m=mark))
        params += [query.record, query.record]
    clauses.append(f"seq > {mark}")
    params.append(after)
    return " AND ".join(clauses), params

"""The reference index beside the audit log (``audit_records``): "which calls saw or touched
this person". Both backends fill it in the transaction that commits the rows, from each row's
stored (hashed) ``records`` column, so the index never says more or less than the chain."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from mopsgate.governance.audit_chain import COLUMNS, StoredRow

_RECORDS = COLUMNS.index("records")


def indexed_refs(rows: Sequence[StoredRow]) -> Iterator[tuple[str, int]]:
    """(ref, seq) for every record reference a row names, once per row."""
    for row in rows:
        if isinstance(stored := row[_RECORDS], str):
            for ref in sorted(set(json.loads(stored))):
                yield str(ref), int(row[0])

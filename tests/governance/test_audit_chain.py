"""The audit log's rules without a database: the event model, the chain, and the checks that
name the first bad row, whichever backend stored it."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from mopsgate.governance.audit_chain import (
    GENESIS_HASH,
    AuditEvent,
    AuditHead,
    chain_rows,
    check_rows,
    event_values,
    split_ranges,
    stitch,
)
from tests.storage.events import allowed


def test_event_model_rejects_unknown_fields_and_is_frozen() -> None:
    with pytest.raises(ValidationError):
        AuditEvent(kind="tool_call", secret_field="x")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        AuditEvent(kind="bogus")
    event = AuditEvent(kind="startup")
    with pytest.raises(ValidationError):
        event.principal = "mallory"  # type: ignore[misc]


def test_a_chain_continues_from_its_head_and_checks_in_any_split() -> None:
    values = [event_values(allowed(result_summary=str(i))) for i in range(9)]
    first = chain_rows(AuditHead(), values[:4])
    rest = chain_rows(AuditHead(first[-1][0], first[-1][-1]), values[4:])
    rows = first + rest
    assert [r[0] for r in rows] == list(range(1, 10))
    assert rows[0][-2] == GENESIS_HASH and rows[4][-2] == first[-1][-1]
    for parts in (1, 2, 3, 9):
        ranges = split_ranges(1, 9, parts)
        result = stitch([check_rows(r for r in rows if a <= r[0] <= b) for a, b in ranges])
        assert (result.ok, result.rows, result.head_hash) == (True, 9, rows[-1][-1])


def test_an_edited_value_is_named_at_its_seq() -> None:
    rows = chain_rows(AuditHead(), [event_values(allowed()) for _ in range(5)])
    edited: list[list[Any]] = [list(r) for r in rows]
    edited[2][4] = "mallory"  # principal of seq 3
    result = stitch([check_rows(tuple(r) for r in edited)])
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "edited" in result.problem

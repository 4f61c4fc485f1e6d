"""The system clock jumps backwards while the audit log is written (catalogue L-15): ``seq``
stays the order of record, timestamps are stored as the clock gave them, and the chain still
verifies — time is evidence, never the chain's link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mopsgate.governance.audit_chain import (
    GENESIS_HASH,
    AuditHead,
    chain_rows,
    check_rows,
    event_values,
    stitch,
)
from tests.storage.events import allowed


def test_a_clock_that_jumps_back_breaks_neither_the_order_nor_the_chain() -> None:
    start = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    ticks = iter([start, start + timedelta(seconds=1), start - timedelta(hours=3), start])
    values = [event_values(allowed(result_summary=f"call {i}")) for i in range(4)]
    rows = chain_rows(AuditHead(0, GENESIS_HASH), values, clock=lambda: next(ticks))
    assert [r[0] for r in rows] == [1, 2, 3, 4]
    assert rows[2][1] < rows[1][1]  # stored as given: the jump is visible in the log
    result = stitch([check_rows(rows)])
    assert result.ok and result.rows == 4, result


def test_a_clock_that_jumps_back_is_flagged_within_and_across_batches(caplog) -> None:
    """The flag: a warning naming the row stamped earlier than the one before it, whether the
    jump falls inside one group commit or between the head and the next batch."""
    start = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    ticks = iter([start, start - timedelta(minutes=5), start + timedelta(seconds=1)])
    values = [event_values(allowed(result_summary=f"call {i}")) for i in range(3)]
    with caplog.at_level("WARNING", logger="mopsgate.audit"):
        rows = chain_rows(AuditHead(0, GENESIS_HASH), values, clock=lambda: next(ticks))
        head = AuditHead(rows[-1][0], rows[-1][-1], rows[-1][1])
        later = chain_rows(head, values[:1], clock=lambda: start - timedelta(hours=1))
    flagged = [r.getMessage() for r in caplog.records if "clock went backwards" in r.getMessage()]
    assert len(flagged) == 2, flagged
    assert "seq=2" in flagged[0] and "seq=4" in flagged[1]
    assert stitch([check_rows([*rows, *later])]).ok  # a flag, never a broken chain
    caplog.clear()
    with caplog.at_level("WARNING", logger="mopsgate.audit"):
        chain_rows(AuditHead(), values, clock=lambda: start)  # a steady clock: no flag
    assert not caplog.records

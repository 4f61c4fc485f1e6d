"""On every backend, an audit row that notifications report queues its notice in the row's own
transaction (#14): the sender finds it as soon as the row is durable, and a row that reports
nothing queues nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.storage import Storage


def later() -> datetime:
    """Five minutes after the test runs (not after the module was collected: under load the
    suite reaches these tests more than five minutes later, and nothing would be due)."""
    return datetime.now(UTC) + timedelta(minutes=5)


LEASE = timedelta(seconds=30)


async def test_a_reported_row_queues_one_notice_and_a_read_none(storage: Storage) -> None:
    await storage.audit.append(
        AuditEvent(kind="tool_call", principal="assistant", tool="whoami", decision="allowed")
    )
    frozen = await storage.audit.append(
        AuditEvent(
            kind="freeze",
            principal="oncall",
            tool="freeze",
            decision="allowed",
            reason="incident 42 (free text the notice does not copy)",
        )
    )
    (item,) = await storage.outbox.claim_due(later(), limit=10, lease=LEASE)
    assert item.message.topic == "notice.frozen"
    assert item.message.key == f"audit:{frozen.seq}:notice.frozen"
    assert item.message.payload["audit_seq"] == frozen.seq
    assert item.message.payload["principal"] == "oncall"
    assert "incident" not in str(item.message.payload)


async def test_a_floor_refusal_of_a_proposal_queues_its_notice(storage: Storage) -> None:
    row = await storage.audit.append(
        AuditEvent(
            kind="tool_call",
            principal="assistant",
            tool="propose_update_person",
            connector="marketo",
            decision="denied",
            outcome="denied",
            rule_id="compliance-floor",
            error_code="compliance_floor",
            records=("marketo:lead:1", "marketo:lead:2"),
        )
    )
    (item,) = await storage.outbox.claim_due(later(), limit=10, lease=LEASE)
    assert item.message.topic == "notice.floor_refused"
    assert (item.message.payload["audit_seq"], item.message.payload["records"]) == (row.seq, 2)

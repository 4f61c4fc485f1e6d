"""`audit query` and the exceptions store on every backend: the same rows, in the same order,
for the same filters; an exception granted, read back whole, revoked once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mopsgate.governance.audit_query import AuditQuery
from mopsgate.governance.reviewer_keys import new_private_key
from mopsgate.governance.waiver_statement import SignedWaiver, WaiverStatement, sign_waiver
from mopsgate.governance.waivers import Waiver
from mopsgate.storage import Storage
from tests.storage.events import allowed

A, B = "marketo:lead:1", "marketo:lead:2"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def test_query_filters_and_the_record_question(storage: Storage) -> None:
    events = [
        allowed(principal="alice", use_case="ops", tool="get_person", records=(A,)),
        allowed(principal="bob", use_case="rep", tool="get_person", records=(B,)),
        allowed(principal="alice", use_case="ops", tool="propose", change_id="c1", records=(A, B)),
        allowed(principal="carol", tool="review approve", change_id="c1"),
        allowed(principal="alice", tool="apply_change", change_id="c1"),
        allowed(principal="alice", tool="get_person", decision="denied", outcome="denied"),
    ]
    for event in events:
        await storage.audit.append(event)
    reader = storage.audit_reader

    async def seqs(q: AuditQuery) -> list[int]:
        return [row.seq async for row in reader.query(q)]

    assert await seqs(AuditQuery(record=A)) == [1, 3, 4, 5]
    assert await seqs(AuditQuery(record=B)) == [2, 3, 4, 5]
    assert await seqs(AuditQuery(record=A, principal="carol")) == [4]
    assert await seqs(AuditQuery(principal="alice", decision="denied")) == [6]
    assert await seqs(AuditQuery(use_case="rep")) == [2]
    assert await seqs(AuditQuery(change_id="c1", tool="apply_change")) == [5]
    assert await seqs(AuditQuery(limit=2)) == [1, 2]
    assert await seqs(AuditQuery(until=T0)) == []
    assert await seqs(AuditQuery(since=T0)) == [1, 2, 3, 4, 5, 6]
    assert await seqs(AuditQuery(record="marketo:lead:404")) == []


def _signed(action: str, **fields: str) -> SignedWaiver:
    statement = WaiverStatement.model_validate(
        {
            "action": action, "exception_id": "exc_1", "use_case": "ops",
            "what": "tool:get_consent_state", "expires_at": "2026-12-08T09:00:00+00:00",
            "ticket": "T-1", "reason": "audit", "reviewer": "rita",
            "manifest_digest": "0" * 64, "at": "2026-12-01T09:00:00+00:00", **fields,
        }
    )  # fmt: skip
    return sign_waiver(statement, new_private_key())


async def test_an_exception_is_kept_whole_and_revoked_once(storage: Storage) -> None:
    grant = _signed("grant")
    waiver = Waiver(
        "exc_1", "ops", "tool:get_consent_state", T0, T0 + timedelta(days=7), "rita", "T-1",
        "audit", grant,
    )  # fmt: skip
    await storage.exceptions.grant(waiver)
    assert await storage.exceptions.all() == [waiver]
    assert await storage.exceptions.get("exc_1") == waiver
    assert await storage.exceptions.get("exc_2") is None
    revoke = _signed("revoke", reviewer="sam", reason="done", at="2026-12-02T09:00:00+00:00")
    done = await storage.exceptions.revoke(revoke)
    assert done is not None and (done.revoked_by, done.revoke_reason) == ("sam", "done")
    assert done.revoked_at == T0 + timedelta(days=1) and done.revoke == revoke
    assert done.state(T0 + timedelta(days=2)) == "revoked"
    assert await storage.exceptions.revoke(revoke) is None

"""A decision, a grant or a revocation commits with its audit row or not at all, on every
backend; an exception's lapse is written once however many processes notice it.

The audit log is made to refuse every insert the way a broken disk or a locked-down table
would (a trigger that raises), as an attacker or an accident with direct database access could."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.change_model import Approval, Change, ChangeStatus
from mopsgate.governance.decision_proof import Ed25519Proof
from mopsgate.governance.errors import AuditUnavailable
from mopsgate.governance.waiver_statement import SignedWaiver, WaiverStatement
from mopsgate.governance.waivers import Waiver, lapse_event
from mopsgate.storage import Storage
from tests.governance.change_factory import NOW, change
from tests.storage.backends import Backend


def row_of(action: str) -> Callable[[Change], AuditEvent]:
    def build(done: Change) -> AuditEvent:
        return AuditEvent(
            kind="review",
            principal="lead",
            tool=f"review {action}",
            change_id=done.id,
            decision="allowed",
            outcome="ok",
            result_summary=f"status now {done.status}",
        )

    return build


@contextmanager
def audit_down(backend: Backend) -> Iterator[None]:
    if backend.name == "sqlite":
        backend.execute(
            "CREATE TRIGGER audit_down BEFORE INSERT ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
        )
        undo = ["DROP TRIGGER audit_down"]
    else:
        backend.execute(
            "CREATE FUNCTION audit_down() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'disk I/O error'; END $$",
            "CREATE TRIGGER audit_down BEFORE INSERT ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_down()",
        )
        undo = ["DROP TRIGGER audit_down ON audit_log", "DROP FUNCTION audit_down()"]
    try:
        yield
    finally:
        backend.execute(*undo)


def waiver(expires_in: timedelta) -> Waiver:
    expires = NOW + expires_in
    statement = WaiverStatement(
        action="grant",
        exception_id="exc_lapse1",
        use_case="reporting",
        what="tool:get_consent_state",
        expires_at=expires.isoformat(timespec="seconds"),
        ticket="RISK-1",
        reason="quarter end",
        reviewer="lead",
        manifest_digest="0" * 64,
        at=NOW.isoformat(timespec="seconds"),
    )
    proof = Ed25519Proof(public_key="ed25519:" + "A" * 43 + "=", signature="A" * 86 + "==")
    return Waiver(
        id="exc_lapse1",
        use_case="reporting",
        what="tool:get_consent_state",
        granted_at=NOW,
        expires_at=expires,
        reviewer="lead",
        ticket="RISK-1",
        reason="quarter end",
        grant=SignedWaiver(statement=statement, proof=proof),
    )


async def tools_logged(storage: Storage) -> list[str]:
    return [str(r.tool) for r in await storage.audit_reader.tail(50)]


async def test_a_decision_commits_with_its_row(storage: Storage) -> None:
    c = await storage.changes.insert(change())
    approval = Approval(reviewer="lead", roles=["mops"], at=NOW)
    done = await storage.changes.add_approval(
        c.id, approval, lambda _a: True, lambda _c: None, audit=row_of("approve")
    )
    assert done.status is ChangeStatus.APPROVED
    [row] = await storage.audit_reader.tail(1)
    assert (row.tool, row.change_id) == ("review approve", c.id)
    assert row.result_summary == "status now approved"
    assert (await storage.audit_reader.verify()).ok


async def test_nothing_stands_without_its_row(backend: Backend, storage: Storage) -> None:
    first = await storage.changes.insert(change())
    second = await storage.changes.insert(change())
    approval = Approval(reviewer="lead", roles=["mops"], at=NOW)
    with audit_down(backend):
        with pytest.raises(AuditUnavailable, match="audit log could not be written"):
            await storage.changes.add_approval(
                first.id, approval, lambda _a: True, lambda _c: None, audit=row_of("approve")
            )
        with pytest.raises(AuditUnavailable):
            await storage.changes.reject(
                second.id, "lead", "no", lambda _c: None, audit=row_of("reject")
            )
        with pytest.raises(AuditUnavailable):
            await storage.exceptions.grant(
                waiver(timedelta(days=7)), audit=lapse_event(waiver(timedelta(days=7)))
            )
    for c in (first, second):
        stored = await storage.changes.require(c.id)
        assert stored.status is ChangeStatus.PROPOSED and stored.approvals == []
        assert stored.rejection is None
    assert await storage.exceptions.all() == []
    assert await tools_logged(storage) == []


async def test_a_lapse_is_written_once_by_racing_processes(
    backend: Backend, storage: Storage
) -> None:
    await storage.exceptions.grant(waiver(timedelta(days=-1)))
    other = await backend.open()
    try:
        written = await asyncio.gather(
            storage.exceptions.record_lapses(NOW, lapse_event),
            other.exceptions.record_lapses(NOW, lapse_event),
            storage.exceptions.record_lapses(NOW, lapse_event),
        )
    finally:
        await other.close()
    assert sorted(len(w) for w in written) == [0, 0, 1]
    assert await tools_logged(storage) == ["exception lapse"]
    assert await storage.exceptions.record_lapses(NOW, lapse_event) == []

"""A proposal's change is stored before the audit row of the call that proposed it. Until the
log holds that row nobody can approve (or reject) the change; one whose row never comes is
withdrawn, with a row of its own, at start-up once it is older than the grace a proposal in
flight gets. On every backend."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mopsgate.governance.audit_query import AuditQuery
from mopsgate.governance.change_model import Approval, Change, ChangeStatus, utcnow
from mopsgate.governance.errors import ChangeRefused
from mopsgate.governance.ports import PROPOSAL_ROW_GRACE
from mopsgate.governance.recovering import withdraw_unaudited
from mopsgate.storage import Storage, audit_reader
from tests.governance.change_factory import change
from tests.storage.backends import Backend
from tests.storage.events import allowed

S = ChangeStatus


async def stored(storage: Storage, age: timedelta = timedelta(0)) -> Change:
    """A change as a proposal stores it, ``age`` ago, before its call's row is written."""
    return await storage.changes.insert(change(now=utcnow() - age), audited_after=True)


async def proposal_row(storage: Storage, c: Change) -> None:
    """The row of the call that proposed ``c``, as the pipeline writes it."""
    event = allowed(principal=c.requester, tool=c.tool, connector=c.connector, change_id=c.id)
    await storage.audit.append(event, count_call=True)


async def approve(storage: Storage, change_id: str) -> Change:
    approval = Approval(reviewer="lead", roles=["mops"], at=utcnow())
    return await storage.changes.add_approval(change_id, approval, lambda _a: True, lambda _c: None)


async def test_a_change_is_decided_on_only_once_its_proposal_is_on_record(
    storage: Storage,
) -> None:
    c = await stored(storage)
    with pytest.raises(ChangeRefused, match="holds no row of the call that proposed it"):
        await approve(storage, c.id)
    with pytest.raises(ChangeRefused, match="holds no row of the call that proposed it"):
        await storage.changes.reject(c.id, "lead", "no", lambda _c: None)
    # A row naming the change from another tool (a get_change, an apply) is not its proposal.
    await storage.audit.append(allowed(tool="get_change", change_id=c.id))
    with pytest.raises(ChangeRefused, match="holds no row of the call that proposed it"):
        await approve(storage, c.id)
    fresh = await storage.changes.require(c.id)
    assert fresh.status is S.PROPOSED and fresh.approvals == []
    await proposal_row(storage, c)
    assert (await approve(storage, c.id)).status is S.APPROVED


async def test_start_up_withdraws_a_change_whose_proposal_row_never_came(
    backend: Backend, storage: Storage
) -> None:
    lost = await stored(storage, age=PROPOSAL_ROW_GRACE + timedelta(minutes=1))
    recorded = await stored(storage, age=PROPOSAL_ROW_GRACE + timedelta(minutes=1))
    await proposal_row(storage, recorded)
    in_flight = await stored(storage)  # another process may still be writing its row
    assert await withdraw_unaudited(storage.changes) == [lost.id]
    assert await withdraw_unaudited(storage.changes) == []  # once

    withdrawn = await storage.changes.require(lost.id)
    assert withdrawn.status is S.CANCELLED
    assert withdrawn.status_detail is not None and withdrawn.status_detail.startswith("withdrawn:")
    assert withdrawn.cancellation is not None and withdrawn.cancellation.by == "(system)"
    with pytest.raises(ChangeRefused):
        await approve(storage, lost.id)
    assert (await storage.changes.require(recorded.id)).status is S.PROPOSED
    assert (await storage.changes.require(in_flight.id)).status is S.PROPOSED

    rows = [r async for r in audit_reader(backend.cfg).query(AuditQuery(change_id=lost.id))]
    assert [(r.kind, r.principal, r.tool) for r in rows] == [
        ("recovery", "(system)", "propose_update_person")
    ]
    assert rows[0].result_summary is not None and "withdrawn" in rows[0].result_summary

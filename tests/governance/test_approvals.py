"""Separation of duties: who may approve what, N-of-M with roles, refusals naming the status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from mopsgate.governance.approvals import approval_progress, approve, cancel, reject
from mopsgate.governance.change_model import ChangeStatus
from mopsgate.governance.errors import ChangeRefused, InvalidInput, NotPermitted, StaleChange
from mopsgate.governance.ports import ChangeStore
from mopsgate.governance.risk import RiskClass
from mopsgate.storage import StorageConfig, open_storage
from tests.governance.change_factory import NOW, change, manifest

S = ChangeStatus
M = manifest()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ChangeStore]:
    storage = await open_storage(StorageConfig.sqlite(tmp_path / "mopsgate.db"))
    try:
        yield storage.changes
    finally:
        await storage.close()


def _code(exc: pytest.ExceptionInfo[Exception]) -> str:
    return str(getattr(exc.value, "details", {}).get("reason_code"))


async def test_single_approval_moves_to_approved(store: ChangeStore) -> None:
    c = await store.insert(change())
    done = await approve(store, M, c.id, "lead", "looks right", now=NOW)
    assert done.status is S.APPROVED
    assert [(a.reviewer, a.roles, a.note) for a in done.approvals] == [
        ("lead", ["mops"], "looks right")
    ]


async def test_self_approval_is_refused(store: ChangeStore) -> None:
    c = await store.insert(change(requester="lead"))
    with pytest.raises(NotPermitted, match="cannot approve") as exc:
        await approve(store, M, c.id, "lead", now=NOW)
    assert _code(exc) == "self_approval"
    assert (await store.require(c.id)).approvals == []


async def test_ai_principal_can_never_review(store: ChangeStore) -> None:
    c = await store.insert(change())
    with pytest.raises(NotPermitted) as exc:
        await approve(store, M, c.id, "bot", now=NOW)
    assert _code(exc) == "self_approval"
    with pytest.raises(NotPermitted, match="AI principal") as exc:
        await approve(store, M, c.id, "other", now=NOW)
    assert _code(exc) == "principal_as_reviewer"


async def test_unknown_reviewer_and_reviewer_without_the_risk_class(store: ChangeStore) -> None:
    c = await store.insert(change(risk=RiskClass.CONSENT))
    with pytest.raises(NotPermitted, match="not a reviewer"):
        await approve(store, M, c.id, "mallory", now=NOW)
    with pytest.raises(NotPermitted, match="may not approve consent") as exc:
        await approve(store, M, c.id, "lead", now=NOW)
    assert _code(exc) == "reviewer_not_allowed"
    assert (await store.require(c.id)).status is S.PROPOSED
    assert (await approve(store, M, c.id, "dpo", now=NOW)).status is S.APPROVED


async def test_send_needs_two_distinct_reviewers_one_compliance(store: ChangeStore) -> None:
    c = await store.insert(change(risk=RiskClass.SEND, count=2, roles=("compliance",)))
    first = await approve(store, M, c.id, "lead", now=NOW)
    assert first.status is S.PROPOSED
    assert "1 of 2" in approval_progress(M, first).reason
    with pytest.raises(NotPermitted, match="already approved") as exc:
        await approve(store, M, c.id, "lead", now=NOW)
    assert _code(exc) == "duplicate_approval"
    second = await approve(store, M, c.id, "ops2", now=NOW)
    assert second.status is S.PROPOSED
    assert "compliance" in approval_progress(M, second).reason
    third = await approve(store, M, c.id, "dpo", now=NOW)
    assert third.status is S.APPROVED
    assert approval_progress(M, third).allowed


async def test_approving_an_expired_change_marks_it_expired(store: ChangeStore) -> None:
    c = await store.insert(change(ttl=timedelta(hours=1)))
    with pytest.raises(ChangeRefused, match="is expired") as exc:
        await approve(store, M, c.id, "lead", now=NOW + timedelta(hours=1))
    assert _code(exc) == "status_expired"
    assert (await store.require(c.id)).status is S.EXPIRED
    with pytest.raises(ChangeRefused, match="is expired"):
        await approve(store, M, c.id, "dpo", now=NOW)


@pytest.mark.parametrize("end", ["cancelled", "rejected", "approved", "applied", "stale"])
async def test_approving_a_decided_change_is_refused(store: ChangeStore, end: str) -> None:
    c = await store.insert(change())
    if end == "cancelled":
        await cancel(store, c.id, "bot", now=NOW)
    elif end == "rejected":
        await reject(store, M, c.id, "dpo", "wrong titles", now=NOW)
    elif end == "stale":
        await store.mark_stale(c.id, "target changed")
    else:
        await approve(store, M, c.id, "lead", now=NOW)
        if end == "applied":
            await store.claim_for_apply(c.id, "n", now=NOW)
            await store.finish_apply(c.id, S.APPLIED, None)
    with pytest.raises(ChangeRefused, match=f"is {end}, so it cannot be approved") as exc:
        await approve(store, M, c.id, "dpo", now=NOW)
    assert exc.value.hint


async def test_manifest_changed_since_plan_makes_it_stale(store: ChangeStore) -> None:
    c = await store.insert(change())
    changed = manifest('[principals.third]\nuse_cases = ["ops"]')
    with pytest.raises(StaleChange, match="manifest changed"):
        await approve(store, changed, c.id, "lead", now=NOW)
    assert (await store.require(c.id)).status is S.STALE


async def test_reject_needs_a_reason_and_a_reviewer(store: ChangeStore) -> None:
    c = await store.insert(change())
    with pytest.raises(InvalidInput):
        await reject(store, M, c.id, "dpo", "  ", now=NOW)
    with pytest.raises(NotPermitted):
        await reject(store, M, c.id, "bot", "mine", now=NOW)
    done = await reject(store, M, c.id, "dpo", "titles are wrong", now=NOW)
    assert done.status is S.REJECTED
    assert done.rejection is not None and done.rejection.by == "dpo"


async def test_reject_revokes_an_approved_change(store: ChangeStore) -> None:
    c = await store.insert(change())
    await approve(store, M, c.id, "lead", now=NOW)
    assert (await reject(store, M, c.id, "dpo", "changed my mind", now=NOW)).status is S.REJECTED
    with pytest.raises(ChangeRefused, match="is rejected"):
        await store.claim_for_apply(c.id, "n", now=NOW)


async def test_cancel_by_requester_only(store: ChangeStore) -> None:
    c = await store.insert(change())
    with pytest.raises(NotPermitted):
        await cancel(store, c.id, "other", now=NOW)
    assert (await cancel(store, c.id, "bot", now=NOW)).status is S.CANCELLED

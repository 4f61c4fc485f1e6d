"""Separation of duties: who may approve what, N-of-M with roles, refusals naming the status."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from mopsgate.governance.approvals import approval_progress, approve, cancel, reject
from mopsgate.governance.change_model import ChangeStatus
from mopsgate.governance.change_store import ChangeStoreSync
from mopsgate.governance.errors import ChangeRefused, InvalidInput, NotPermitted, StaleChange
from mopsgate.governance.risk import RiskClass
from tests.governance.change_factory import NOW, change, manifest

S = ChangeStatus
M = manifest()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ChangeStoreSync]:
    s = ChangeStoreSync.open(tmp_path / "mopsgate.db")
    yield s
    s.close()


def _code(exc: pytest.ExceptionInfo[Exception]) -> str:
    return str(getattr(exc.value, "details", {}).get("reason_code"))


def test_single_approval_moves_to_approved(store: ChangeStoreSync) -> None:
    c = store.insert(change())
    done = approve(store, M, c.id, "lead", "looks right", now=NOW)
    assert done.status is S.APPROVED
    assert [(a.reviewer, a.roles, a.note) for a in done.approvals] == [
        ("lead", ["mops"], "looks right")
    ]


def test_self_approval_is_refused(store: ChangeStoreSync) -> None:
    c = store.insert(change(requester="lead"))
    with pytest.raises(NotPermitted, match="cannot approve") as exc:
        approve(store, M, c.id, "lead", now=NOW)
    assert _code(exc) == "self_approval"
    assert store.require(c.id).approvals == []


def test_ai_principal_can_never_review(store: ChangeStoreSync) -> None:
    c = store.insert(change())
    with pytest.raises(NotPermitted) as exc:
        approve(store, M, c.id, "bot", now=NOW)
    assert _code(exc) == "self_approval"
    with pytest.raises(NotPermitted, match="AI principal") as exc:
        approve(store, M, c.id, "other", now=NOW)
    assert _code(exc) == "principal_as_reviewer"


def test_unknown_reviewer_and_reviewer_without_the_risk_class(store: ChangeStoreSync) -> None:
    c = store.insert(change(risk=RiskClass.CONSENT))
    with pytest.raises(NotPermitted, match="not a reviewer"):
        approve(store, M, c.id, "mallory", now=NOW)
    with pytest.raises(NotPermitted, match="may not approve consent") as exc:
        approve(store, M, c.id, "lead", now=NOW)
    assert _code(exc) == "reviewer_not_allowed"
    assert store.require(c.id).status is S.PROPOSED
    assert approve(store, M, c.id, "dpo", now=NOW).status is S.APPROVED


def test_send_needs_two_distinct_reviewers_one_compliance(store: ChangeStoreSync) -> None:
    c = store.insert(change(risk=RiskClass.SEND, count=2, roles=("compliance",)))
    first = approve(store, M, c.id, "lead", now=NOW)
    assert first.status is S.PROPOSED
    assert "1 of 2" in approval_progress(M, first).reason
    with pytest.raises(NotPermitted, match="already approved") as exc:
        approve(store, M, c.id, "lead", now=NOW)
    assert _code(exc) == "duplicate_approval"
    second = approve(store, M, c.id, "ops2", now=NOW)
    assert second.status is S.PROPOSED
    assert "compliance" in approval_progress(M, second).reason
    third = approve(store, M, c.id, "dpo", now=NOW)
    assert third.status is S.APPROVED
    assert approval_progress(M, third).allowed


def test_approving_an_expired_change_marks_it_expired(store: ChangeStoreSync) -> None:
    c = store.insert(change(ttl=timedelta(hours=1)))
    with pytest.raises(ChangeRefused, match="is expired") as exc:
        approve(store, M, c.id, "lead", now=NOW + timedelta(hours=1))
    assert _code(exc) == "status_expired"
    assert store.require(c.id).status is S.EXPIRED
    with pytest.raises(ChangeRefused, match="is expired"):
        approve(store, M, c.id, "dpo", now=NOW)


@pytest.mark.parametrize("end", ["cancelled", "rejected", "approved", "applied", "stale"])
def test_approving_a_decided_change_is_refused(store: ChangeStoreSync, end: str) -> None:
    c = store.insert(change())
    if end == "cancelled":
        cancel(store, c.id, "bot", now=NOW)
    elif end == "rejected":
        reject(store, M, c.id, "dpo", "wrong titles", now=NOW)
    elif end == "stale":
        store.mark_stale(c.id, "target changed")
    else:
        approve(store, M, c.id, "lead", now=NOW)
        if end == "applied":
            store.claim_for_apply(c.id, "n", now=NOW)
            store.finish_apply(c.id, S.APPLIED, None)
    with pytest.raises(ChangeRefused, match=f"is {end}, so it cannot be approved") as exc:
        approve(store, M, c.id, "dpo", now=NOW)
    assert exc.value.hint


def test_manifest_changed_since_plan_makes_it_stale(store: ChangeStoreSync) -> None:
    c = store.insert(change())
    changed = manifest('[principals.third]\nuse_cases = ["ops"]')
    with pytest.raises(StaleChange, match="manifest changed"):
        approve(store, changed, c.id, "lead", now=NOW)
    assert store.require(c.id).status is S.STALE


def test_reject_needs_a_reason_and_a_reviewer(store: ChangeStoreSync) -> None:
    c = store.insert(change())
    with pytest.raises(InvalidInput):
        reject(store, M, c.id, "dpo", "  ", now=NOW)
    with pytest.raises(NotPermitted):
        reject(store, M, c.id, "bot", "mine", now=NOW)
    done = reject(store, M, c.id, "dpo", "titles are wrong", now=NOW)
    assert done.status is S.REJECTED
    assert done.rejection is not None and done.rejection.by == "dpo"


def test_reject_revokes_an_approved_change(store: ChangeStoreSync) -> None:
    c = store.insert(change())
    approve(store, M, c.id, "lead", now=NOW)
    assert reject(store, M, c.id, "dpo", "changed my mind", now=NOW).status is S.REJECTED
    with pytest.raises(ChangeRefused, match="is rejected"):
        store.claim_for_apply(c.id, "n", now=NOW)


def test_cancel_by_requester_only(store: ChangeStoreSync) -> None:
    c = store.insert(change())
    with pytest.raises(NotPermitted):
        cancel(store, c.id, "other", now=NOW)
    assert cancel(store, c.id, "bot", now=NOW).status is S.CANCELLED

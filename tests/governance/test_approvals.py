"""Separation of duties: who may approve what, N-of-M with roles, refusals naming the status.
Every decision here is signed with the reviewer's own declared key, as the CLI and console do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mopsgate.governance.approvals import (
    approval_progress,
    approval_summary,
    approve,
    cancel,
    reject,
)
from mopsgate.governance.change_model import Change, ChangeStatus
from mopsgate.governance.decision_proof import SignedDecision
from mopsgate.governance.decision_statement import Verdict, new_statement
from mopsgate.governance.errors import ChangeRefused, InvalidInput, NotPermitted, StaleChange
from mopsgate.governance.manifest_load import legacy_digest, manifest_digest
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.ports import ChangeStore
from mopsgate.governance.reviewer_keys import sign
from mopsgate.governance.risk import RiskClass
from mopsgate.storage import StorageConfig, open_storage
from tests.governance.change_factory import NOW, change, manifest
from tests.support.reviewers import key_table, reviewer_key

S = ChangeStatus
M = manifest(key_table("lead") + key_table("dpo") + key_table("ops2"))
D = manifest_digest(M)


def fresh(**kw: Any) -> Change:
    return change(digest=D, **kw)


def signed(
    c: Change, reviewer: str, decision: Verdict, note: str, at: datetime, m: Manifest
) -> SignedDecision:
    statement = new_statement(
        change_id=c.id,
        plan_digest=c.plan_digest,
        manifest_digest=manifest_digest(m),
        decision=decision,
        reviewer=reviewer,
        note=note,
        checklist={},
        at=at,
    )
    return sign(statement, reviewer_key(reviewer))


async def approve_as(
    store: ChangeStore,
    c: Change,
    reviewer: str,
    note: str = "",
    now: datetime = NOW,
    m: Manifest = M,
) -> Change:
    return await approve(store, m, signed(c, reviewer, "approve", note, now, m), now=now)


async def reject_as(
    store: ChangeStore, c: Change, reviewer: str, reason: str, now: datetime = NOW
) -> Change:
    return await reject(store, M, signed(c, reviewer, "reject", reason, now, M), now=now)


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
    c = await store.insert(fresh())
    done = await approve_as(store, c, "lead", "looks right", now=NOW)
    assert done.status is S.APPROVED
    assert [(a.reviewer, a.roles, a.note) for a in done.approvals] == [
        ("lead", ["mops"], "looks right")
    ]
    (stored,) = (await store.require(c.id)).approvals
    assert stored.proof is not None and stored.proof.statement.note == "looks right"
    assert stored.proof.statement.plan_digest == c.plan_digest


async def test_self_approval_is_refused(store: ChangeStore) -> None:
    c = await store.insert(fresh(requester="lead"))
    with pytest.raises(NotPermitted, match="cannot approve") as exc:
        await approve_as(store, c, "lead", now=NOW)
    assert _code(exc) == "self_approval"
    assert (await store.require(c.id)).approvals == []


async def test_ai_principal_can_never_review(store: ChangeStore) -> None:
    c = await store.insert(fresh())
    with pytest.raises(NotPermitted) as exc:
        await approve_as(store, c, "bot", now=NOW)
    assert _code(exc) == "self_approval"
    with pytest.raises(NotPermitted, match="AI principal") as exc:
        await approve_as(store, c, "other", now=NOW)
    assert _code(exc) == "principal_as_reviewer"


async def test_unknown_reviewer_and_reviewer_without_the_risk_class(store: ChangeStore) -> None:
    c = await store.insert(fresh(risk=RiskClass.CONSENT))
    with pytest.raises(NotPermitted, match="not a reviewer"):
        await approve_as(store, c, "mallory", now=NOW)
    with pytest.raises(NotPermitted, match="may not approve consent") as exc:
        await approve_as(store, c, "lead", now=NOW)
    assert _code(exc) == "reviewer_not_allowed"
    assert (await store.require(c.id)).status is S.PROPOSED
    assert (await approve_as(store, c, "dpo", now=NOW)).status is S.APPROVED


async def test_send_needs_two_distinct_reviewers_one_compliance(store: ChangeStore) -> None:
    c = await store.insert(fresh(risk=RiskClass.SEND, count=2, roles=("compliance",)))
    assert approval_summary(M, c) == (
        "Needs 2 more approvals (including role: compliance); no approvals yet"
    )
    first = await approve_as(store, c, "lead", now=NOW)
    assert first.status is S.PROPOSED
    assert "1 of 2" in approval_progress(M, first).reason
    assert approval_summary(M, first) == (
        "Needs 1 more approval (role: compliance); approved by lead"
    )
    with pytest.raises(NotPermitted, match="already approved") as exc:
        await approve_as(store, c, "lead", now=NOW)
    assert _code(exc) == "duplicate_approval"
    second = await approve_as(store, c, "ops2", now=NOW)
    assert second.status is S.PROPOSED
    assert "compliance" in approval_progress(M, second).reason
    assert approval_summary(M, second) == (
        "Needs 1 more approval (role: compliance); approved by lead, ops2"
    )
    third = await approve_as(store, c, "dpo", now=NOW)
    assert third.status is S.APPROVED
    assert approval_progress(M, third).allowed
    assert approval_summary(M, third) == "Approved by 3 (2 required) reviewers — ready to apply"


async def test_approving_an_expired_change_marks_it_expired(store: ChangeStore) -> None:
    c = await store.insert(fresh(ttl=timedelta(hours=1)))
    with pytest.raises(ChangeRefused, match="is expired") as exc:
        await approve_as(store, c, "lead", now=NOW + timedelta(hours=1))
    assert _code(exc) == "status_expired"
    assert (await store.require(c.id)).status is S.EXPIRED
    with pytest.raises(ChangeRefused, match="is expired"):
        await approve_as(store, c, "dpo", now=NOW)


@pytest.mark.parametrize("end", ["cancelled", "rejected", "approved", "applied", "stale"])
async def test_approving_a_decided_change_is_refused(store: ChangeStore, end: str) -> None:
    c = await store.insert(fresh())
    if end == "cancelled":
        await cancel(store, c.id, "bot", now=NOW)
    elif end == "rejected":
        await reject_as(store, c, "dpo", "wrong titles", now=NOW)
    elif end == "stale":
        await store.mark_stale(c.id, "target changed")
    else:
        await approve_as(store, c, "lead", now=NOW)
        if end == "applied":
            await store.claim_for_apply(c.id, "n", now=NOW)
            await store.finish_apply(c.id, S.APPLIED, None)
    with pytest.raises(ChangeRefused, match=f"is {end}, so it cannot be approved") as exc:
        await approve_as(store, c, "dpo", now=NOW)
    assert exc.value.hint


async def test_manifest_changed_since_plan_makes_it_stale(store: ChangeStore) -> None:
    c = await store.insert(fresh())
    changed = manifest('[principals.third]\nuse_cases = ["ops"]')
    with pytest.raises(StaleChange, match="manifest changed"):
        await approve_as(store, c, "lead", m=changed)
    assert (await store.require(c.id)).status is S.STALE


async def test_a_change_proposed_before_the_digest_named_the_text_is_still_current(
    store: ChangeStore,
) -> None:
    """An upgrade moved the manifest digest from the model to the file's text: a change
    recorded under the old digest of the same manifest is not stale (M-17's digest fix)."""
    c = await store.insert(change(digest=legacy_digest(M)))
    assert legacy_digest(M) != D
    assert (await approve_as(store, c, "lead", now=NOW)).approvals[0].reviewer == "lead"
    other = await store.insert(change(digest=legacy_digest(manifest("# nothing else"))))
    assert legacy_digest(manifest("# nothing else")) != legacy_digest(M)
    with pytest.raises(StaleChange):
        await approve_as(store, other, "lead", now=NOW)


async def test_reject_needs_a_reason_and_a_reviewer(store: ChangeStore) -> None:
    c = await store.insert(fresh())
    with pytest.raises(InvalidInput):
        await reject_as(store, c, "dpo", "  ", now=NOW)
    with pytest.raises(NotPermitted):
        await reject_as(store, c, "bot", "mine", now=NOW)
    done = await reject_as(store, c, "dpo", "titles are wrong", now=NOW)
    assert done.status is S.REJECTED
    assert done.rejection is not None and done.rejection.by == "dpo"
    assert done.rejection.proof is not None
    assert done.rejection.proof.statement.note == "titles are wrong"


async def test_reject_revokes_an_approved_change(store: ChangeStore) -> None:
    c = await store.insert(fresh())
    await approve_as(store, c, "lead", now=NOW)
    assert (await reject_as(store, c, "dpo", "changed my mind", now=NOW)).status is S.REJECTED
    with pytest.raises(ChangeRefused, match="is rejected"):
        await store.claim_for_apply(c.id, "n", now=NOW)


async def test_cancel_by_requester_only(store: ChangeStore) -> None:
    c = await store.insert(fresh())
    with pytest.raises(NotPermitted):
        await cancel(store, c.id, "other", now=NOW)
    assert (await cancel(store, c.id, "bot", now=NOW)).status is S.CANCELLED

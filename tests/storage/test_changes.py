"""The change store on every backend: atomic transitions, a token spent once however many
callers race, durable per-record progress, the hourly budget, and messages queued with the
change they report."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from mopsgate.crm.records import RecordResult
from mopsgate.governance.change_model import Approval, ChangeStatus
from mopsgate.governance.change_rules import RecordBudget
from mopsgate.governance.errors import (
    ChangeRefused,
    Frozen,
    NotFound,
    NotPermitted,
    RateLimited,
    TokenInvalid,
)
from mopsgate.governance.outbox import OutboxMessage
from mopsgate.storage import Storage
from tests.governance.change_factory import NOW, change
from tests.storage.backends import Backend

S = ChangeStatus


async def approve(storage: Storage, change_id: str, reviewer: str = "lead") -> None:
    approval = Approval(reviewer=reviewer, roles=["mops"], at=NOW)
    await storage.changes.add_approval(change_id, approval, lambda _a: True, lambda _c: None)


async def approved(storage: Storage, **kw: Any) -> str:
    c = await storage.changes.insert(change(**kw))
    await approve(storage, c.id)
    return c.id


def ok(ref: str, **after: str) -> tuple[RecordResult, dict[str, Any]]:
    return RecordResult(ref=ref, ok=True), dict(after)


async def test_insert_and_get_round_trip(storage: Storage) -> None:
    c = change()
    await storage.changes.insert(c)
    assert await storage.changes.require(c.id) == c
    assert await storage.changes.get("chg_missing") is None
    with pytest.raises(NotFound):
        await storage.changes.require("chg_missing")
    with pytest.raises(ValueError, match="fresh proposed"):
        await storage.changes.insert(change().model_copy(update={"status": S.APPROVED}))


async def test_claim_moves_approved_to_applying_once(storage: Storage) -> None:
    cid = await approved(storage)
    claimed = await storage.changes.claim_for_apply(cid, "nonce-1", now=NOW)
    assert claimed.status is S.APPLYING
    with pytest.raises(TokenInvalid) as replay:
        await storage.changes.claim_for_apply(cid, "nonce-1", now=NOW)
    assert replay.value.details["reason_code"] == "already_used"
    with pytest.raises(TokenInvalid) as other:
        await storage.changes.claim_for_apply(cid, "nonce-2", now=NOW)
    assert other.value.details["reason_code"] == "already_consumed"


async def test_claim_refuses_unapproved_and_expired(storage: Storage) -> None:
    c = await storage.changes.insert(change())
    with pytest.raises(ChangeRefused, match="is proposed"):
        await storage.changes.claim_for_apply(c.id, "n", now=NOW)
    cid = await approved(storage, ttl=timedelta(minutes=5))
    with pytest.raises(ChangeRefused, match="is expired"):
        await storage.changes.claim_for_apply(cid, "n2", now=NOW + timedelta(minutes=6))
    assert (await storage.changes.require(cid)).status is S.EXPIRED  # committed, then refused


async def test_racing_claims_from_two_processes_one_wins(
    storage: Storage, backend: Backend
) -> None:
    """Eight applies of one change from two processes (two open storages): one applies."""
    other = await backend.open()
    try:
        for _ in range(3):
            cid = await approved(storage)
            results = await asyncio.gather(
                *(
                    s.changes.claim_for_apply(cid, f"{cid}-{i}", now=NOW)
                    for i, s in enumerate((storage, other) * 4)
                ),
                return_exceptions=True,
            )
            wins = [r for r in results if not isinstance(r, BaseException)]
            assert len(wins) == 1
            assert all(isinstance(r, ChangeRefused) for r in results if r not in wins)
            assert (await other.changes.require(cid)).status is S.APPLYING
    finally:
        await other.close()


async def test_results_recorded_survive_the_process(backend: Backend) -> None:
    """The process applying dies after two records (no finish): a new one sees exactly what
    was written, still applying, for start-up recovery to settle."""
    dying = await backend.open()
    try:
        cid = await approved(dying, n=3)
        refs = [r.ref for r in (await dying.changes.require(cid)).plan.records]
        await dying.changes.claim_for_apply(cid, "n1", now=NOW)
        await dying.changes.record_results(cid, [ok(refs[0], jobtitle="Manager")], now=NOW)
        failed = RecordResult(ref=refs[1], ok=False, code="E", message="boom")
        await dying.changes.record_results(cid, [(failed, {})], now=NOW)
    finally:
        await dying.close()  # its connections, and whatever it held, go with it

    after = await backend.open()
    try:
        assert await after.changes.interrupted_ids() == [cid]
        assert await after.changes.written_refs(cid) == {refs[0]}
        crashed = await after.changes.require(cid)
        assert crashed.status is S.APPLYING
        records = [(r.ref, r.ok) for r in crashed.outcome.records]
        assert records == [(refs[0], True), (refs[1], False)]
        assert crashed.outcome.records[0].after_image == {"jobtitle": "Manager"}
    finally:
        await after.close()


async def test_resume_after_failure_never_writes_twice(storage: Storage) -> None:
    store = storage.changes
    cid = await approved(storage, n=3)
    refs = [r.ref for r in (await store.require(cid)).plan.records]
    await store.claim_for_apply(cid, "n1", now=NOW)
    await store.record_results(cid, [ok(refs[0], jobtitle="M")])
    failed = await store.finish_apply(cid, S.FAILED, "interrupted")
    assert failed.status is S.FAILED and await store.interrupted_ids() == []
    with pytest.raises(ChangeRefused, match="is failed"):
        await store.claim_for_apply(cid, "n2", now=NOW)
    await store.claim_for_apply(cid, "n2", now=NOW, resume=True)
    assert await store.written_refs(cid) == {refs[0]}
    with pytest.raises(ChangeRefused, match="already written"):
        await store.record_results(cid, [ok(refs[0])])
    await store.record_results(cid, [ok(ref, jobtitle="M") for ref in refs[1:]])
    done = await store.finish_apply(cid, S.APPLIED, None)
    assert done.status is S.APPLIED
    assert len(done.outcome.records) == 3 and done.outcome.finished_at is not None
    with pytest.raises(ChangeRefused):
        await store.finish_apply(cid, S.FAILED, "again")


async def test_a_failed_record_may_be_retried_but_only_while_applying(storage: Storage) -> None:
    cid = await approved(storage)
    ref = (await storage.changes.require(cid)).plan.records[0].ref
    with pytest.raises(ChangeRefused, match="not applying"):
        await storage.changes.record_results(cid, [ok(ref)])
    await storage.changes.claim_for_apply(cid, "n1", now=NOW)
    await storage.changes.record_results(cid, [(RecordResult(ref=ref, ok=False, code="429"), {})])
    await storage.changes.record_results(cid, [ok(ref, jobtitle="M")])
    assert await storage.changes.written_refs(cid) == {ref}


async def test_stale_and_expiry(storage: Storage) -> None:
    cid = await approved(storage)
    await storage.changes.claim_for_apply(cid, "n", now=NOW)
    stale = await storage.changes.finish_apply(cid, S.STALE, "hubspot:contact:1000 moved")
    assert stale.status is S.STALE and stale.status_detail
    other = await storage.changes.insert(change())
    assert (await storage.changes.mark_stale(other.id, "manifest changed")).status is S.STALE
    short = await storage.changes.insert(change(ttl=timedelta(minutes=5)))
    longer = await storage.changes.insert(change())
    soon = await approved(storage, ttl=timedelta(minutes=5))
    expired = await storage.changes.expire_due(NOW + timedelta(minutes=5))
    assert sorted(expired) == sorted([short.id, soon])
    assert (await storage.changes.require(longer.id)).status is S.PROPOSED
    lone = await storage.changes.insert(change())
    assert (await storage.changes.mark_expired(lone.id)).status is S.EXPIRED


async def test_list_changes_filters(storage: Storage) -> None:
    a = await storage.changes.insert(change(requester="bot"))
    b = await storage.changes.insert(change(requester="other", now=NOW + timedelta(minutes=1)))
    await approve(storage, b.id)
    assert [c.id for c in await storage.changes.list_changes()] == [b.id, a.id]
    assert [c.id for c in await storage.changes.list_changes(status=S.APPROVED)] == [b.id]
    assert [c.id for c in await storage.changes.list_changes(requester="bot")] == [a.id]
    assert len(await storage.changes.list_changes(limit=1)) == 1


async def test_the_hourly_budget_is_checked_with_the_insert(storage: Storage) -> None:
    store = storage.changes
    await store.insert(change(n=5, now=NOW - timedelta(minutes=90)))
    for minutes in (50, 10, 0):
        await store.insert(change(n=3, now=NOW - timedelta(minutes=minutes)))
    await store.insert(change(requester="other", n=7, now=NOW))
    assert await store.records_proposed_last_hour("bot", NOW) == 9
    assert await store.records_proposed_last_hour("other", NOW) == 7
    assert await store.records_proposed_last_hour("nobody", NOW) == 0
    hour = NOW - timedelta(hours=1)
    with pytest.raises(RateLimited, match=r"limit of 10 records per hour \(9 already"):
        await store.insert(change(n=2), budget=RecordBudget(10, hour, 2))
    await store.insert(change(n=1), budget=RecordBudget(10, hour, 1))
    assert await store.records_proposed_last_hour("bot", NOW) == 10


async def test_two_proposals_racing_for_the_last_of_the_budget(
    storage: Storage, backend: Backend
) -> None:
    other = await backend.open()
    try:
        budget = RecordBudget(4, NOW - timedelta(hours=1), 3)
        results = await asyncio.gather(
            storage.changes.insert(change(n=3), budget=budget),
            other.changes.insert(change(n=3), budget=budget),
            return_exceptions=True,
        )
    finally:
        await other.close()
    assert sorted(type(r).__name__ for r in results) == ["Change", "RateLimited"]


async def test_cancel_only_by_requester_and_only_while_open(storage: Storage) -> None:
    store = storage.changes
    c = await store.insert(change())
    with pytest.raises(NotPermitted, match="only bot"):
        await store.cancel(c.id, "other", now=NOW)
    cancelled = await store.cancel(c.id, "bot", "not needed", now=NOW)
    assert cancelled.status is S.CANCELLED and cancelled.cancellation is not None
    with pytest.raises(ChangeRefused, match="is cancelled"):
        await store.cancel(c.id, "bot", now=NOW)
    cid = await approved(storage)
    await store.claim_for_apply(cid, "n", now=NOW)
    with pytest.raises(ChangeRefused, match="is applying"):
        await store.cancel(cid, "bot", now=NOW)


async def test_approvals_need_distinct_reviewers_and_promote_once(storage: Storage) -> None:
    c = await storage.changes.insert(change())

    def two(approvals: Any) -> bool:
        return len(approvals) >= 2

    first = Approval(reviewer="lead", roles=["mops"], at=NOW)
    after_one = await storage.changes.add_approval(c.id, first, two, lambda _c: None)
    assert after_one.status is S.PROPOSED and [a.reviewer for a in after_one.approvals] == ["lead"]
    with pytest.raises(NotPermitted, match="already approved"):
        await storage.changes.add_approval(c.id, first, two, lambda _c: None)
    second = Approval(reviewer="dpo", roles=["compliance"], at=NOW)
    promoted = await storage.changes.add_approval(c.id, second, two, lambda _c: None)
    assert promoted.status is S.APPROVED and len(promoted.approvals) == 2
    refused = ChangeRefused("the guard says no")
    other = await storage.changes.insert(change())
    with pytest.raises(ChangeRefused, match="guard says no"):
        await storage.changes.add_approval(other.id, first, two, lambda _c: refused)
    assert (await storage.changes.require(other.id)).approvals == []


async def test_reject_records_who_and_why(storage: Storage) -> None:
    c = await storage.changes.insert(change())
    rejected = await storage.changes.reject(c.id, "lead", "wrong list", lambda _c: None, now=NOW)
    assert rejected.status is S.REJECTED and rejected.rejection is not None
    assert (rejected.rejection.by, rejected.status_detail) == ("lead", "wrong list")


async def test_follow_ups_are_linked(storage: Storage) -> None:
    c = await storage.changes.insert(change())
    r, f = await storage.changes.insert(change()), await storage.changes.insert(change())
    await storage.changes.link_revert(c.id, r.id)
    await storage.changes.link_finish(c.id, f.id)
    got = await storage.changes.require(c.id)
    assert (got.reverted_by, got.finished_by) == (r.id, f.id)


async def test_messages_are_queued_only_with_the_change_they_report(storage: Storage) -> None:
    def note(key: str) -> OutboxMessage:
        return OutboxMessage("change.awaiting_review", key, {"change_id": key})

    c = change()
    await storage.changes.insert(c, notify=[note(c.id)])
    refused = change(n=2)
    with pytest.raises(RateLimited):
        await storage.changes.insert(
            refused, budget=RecordBudget(1, NOW - timedelta(hours=1), 2), notify=[note(refused.id)]
        )
    await storage.changes.reject(
        c.id, "lead", "no", lambda _c: None, now=NOW, notify=[note(f"{c.id}:rejected")]
    )
    due = await storage.outbox.claim_due(NOW + timedelta(days=1), limit=10, lease=timedelta(1))
    assert [i.message.key for i in due] == [c.id, f"{c.id}:rejected"]


async def test_a_freeze_blocks_every_claim_until_lifted(storage: Storage, backend: Backend) -> None:
    """Frozen from another process (here: another open storage): the very next claim is
    refused and changes nothing; after unfreeze it goes through."""
    cid = await approved(storage)
    assert await storage.freeze.state() is None
    other = await backend.open()
    try:
        state = await other.freeze.freeze("incident 42", "alice", at=NOW)
        assert (state.reason, state.by, state.at) == ("incident 42", "alice", NOW)
        assert await storage.freeze.state() == state
        assert await storage.changes.frozen() == state
        with pytest.raises(Frozen, match="incident 42") as exc:
            await storage.changes.claim_for_apply(cid, "n", now=NOW)
        assert exc.value.details["reason_code"] == "frozen"
        with pytest.raises(Frozen):
            await storage.changes.ensure_not_frozen()
        assert (await storage.changes.require(cid)).status is S.APPROVED
        assert await other.freeze.unfreeze("bob") == state
        assert await other.freeze.unfreeze("bob") is None
    finally:
        await other.close()
    await storage.changes.ensure_not_frozen()
    assert (await storage.changes.claim_for_apply(cid, "n", now=NOW)).status is S.APPLYING

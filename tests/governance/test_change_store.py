"""The change store: atomic transitions, single use, durable per-record progress, rates."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from mopsgate.connectors.model import RecordResult
from mopsgate.governance import change_sql
from mopsgate.governance.change_model import Approval, ChangeStatus
from mopsgate.governance.change_store import ChangeStore, ChangeStoreSync
from mopsgate.governance.errors import ChangeRefused, NotFound, NotPermitted, TokenInvalid
from mopsgate.governance.freeze import freeze
from tests.governance.change_factory import NOW, change

S = ChangeStatus


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "mopsgate.db"


@pytest.fixture
def store(db: Path) -> Iterator[ChangeStoreSync]:
    s = ChangeStoreSync.open(db)
    yield s
    s.close()


def _approve(store: ChangeStoreSync, change_id: str, reviewer: str = "lead") -> None:
    approval = Approval(reviewer=reviewer, roles=["mops"], at=NOW)
    store.add_approval(change_id, approval, lambda _a: True, lambda _c: None)


def _approved(store: ChangeStoreSync, **kw: Any) -> str:
    c = store.insert(change(**kw))
    _approve(store, c.id)
    return c.id


def test_insert_and_get_round_trip(store: ChangeStoreSync) -> None:
    c = change()
    store.insert(c)
    got = store.require(c.id)
    assert got == c
    assert store.get("chg_missing") is None
    with pytest.raises(NotFound):
        store.require("chg_missing")


def test_uses_wal_and_full_sync(store: ChangeStoreSync, db: Path) -> None:
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"changes", "approvals", "applied_records", "freeze_state"} <= tables


def test_claim_moves_approved_to_applying_once(store: ChangeStoreSync) -> None:
    cid = _approved(store)
    claimed = store.claim_for_apply(cid, "nonce-1", now=NOW)
    assert claimed.status is S.APPLYING
    with pytest.raises(TokenInvalid) as replay:
        store.claim_for_apply(cid, "nonce-1", now=NOW)
    assert replay.value.details["reason_code"] == "already_used"
    with pytest.raises(TokenInvalid) as other:
        store.claim_for_apply(cid, "nonce-2", now=NOW)
    assert other.value.details["reason_code"] == "already_consumed"


def test_claim_refuses_unapproved_and_expired(store: ChangeStoreSync) -> None:
    c = store.insert(change())
    with pytest.raises(ChangeRefused, match="is proposed"):
        store.claim_for_apply(c.id, "n", now=NOW)
    cid = _approved(store, ttl=timedelta(minutes=5))
    with pytest.raises(ChangeRefused, match="is expired"):
        store.claim_for_apply(cid, "n2", now=NOW + timedelta(minutes=6))
    assert store.require(cid).status is S.EXPIRED


def test_concurrent_claims_from_two_connections_one_wins(db: Path) -> None:
    setup = ChangeStoreSync.open(db)
    ids = [_approved(setup) for _ in range(20)]
    setup.close()
    for cid in ids:
        barrier = threading.Barrier(2)
        wins: list[str] = []

        def claim(
            nonce: str,
            cid: str = cid,
            barrier: threading.Barrier = barrier,
            wins: list[str] = wins,
        ) -> None:
            s = ChangeStoreSync.open(db)
            barrier.wait()
            try:
                s.claim_for_apply(cid, nonce, now=NOW)
                wins.append(nonce)
            except ChangeRefused:
                pass
            finally:
                s.close()

        threads = [threading.Thread(target=claim, args=(f"{cid}-{i}",)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(wins) == 1


async def test_concurrent_async_claims_one_wins(db: Path) -> None:
    sync = ChangeStoreSync.open(db)
    cid = _approved(sync)
    sync.close()
    a, b = await ChangeStore.open(db), await ChangeStore.open(db)
    try:
        results = await asyncio.gather(
            a.claim_for_apply(cid, "n-a", now=NOW),
            b.claim_for_apply(cid, "n-b", now=NOW),
            a.claim_for_apply(cid, "n-c", now=NOW),
            return_exceptions=True,
        )
        assert sum(not isinstance(r, BaseException) for r in results) == 1
        assert all(isinstance(r, ChangeRefused) for r in results if isinstance(r, BaseException))
        assert (await a.require(cid)).status is S.APPLYING
    finally:
        await a.close()
        await b.close()


def test_per_record_results_survive_a_crash(db: Path) -> None:
    s = ChangeStoreSync.open(db)
    cid = _approved(s, n=3)
    refs = [r.ref for r in s.require(cid).plan.records]
    s.claim_for_apply(cid, "n1", now=NOW)
    s.record_result(cid, RecordResult(ref=refs[0], ok=True), {"jobtitle": "Manager"}, now=NOW)
    s.record_result(cid, RecordResult(ref=refs[1], ok=False, code="E", message="boom"), {})
    s._conn.close()  # the process dies mid-apply: no finish_apply

    s2 = ChangeStoreSync.open(db)
    assert s2.written_refs(cid) == {refs[0]}
    crashed = s2.require(cid)
    assert crashed.status is S.APPLYING
    assert [(r.ref, r.ok) for r in crashed.outcome.records] == [(refs[0], True), (refs[1], False)]
    assert crashed.outcome.records[0].after_image == {"jobtitle": "Manager"}
    s2.close()


async def test_recover_then_resume_never_writes_twice(db: Path) -> None:
    store = await ChangeStore.open(db)
    c = await store.insert(change(n=3))
    sync = ChangeStoreSync.open(db)
    _approve(sync, c.id)
    sync.close()
    refs = [r.ref for r in c.plan.records]
    await store.claim_for_apply(c.id, "n1", now=NOW)
    await store.record_result(c.id, RecordResult(ref=refs[0], ok=True), {"jobtitle": "M"})
    assert await store.interrupted_ids() == [c.id]
    failed = await store.finish_apply(c.id, S.FAILED, "interrupted")
    assert failed.status is S.FAILED and await store.interrupted_ids() == []
    with pytest.raises(ChangeRefused, match="is failed"):
        await store.claim_for_apply(c.id, "n2", now=NOW)
    await store.claim_for_apply(c.id, "n2", now=NOW, resume=True)
    assert await store.written_refs(c.id) == {refs[0]}
    with pytest.raises(ChangeRefused, match="already written"):
        await store.record_result(c.id, RecordResult(ref=refs[0], ok=True), {})
    for ref in refs[1:]:
        await store.record_result(c.id, RecordResult(ref=ref, ok=True), {"jobtitle": "M"})
    done = await store.finish_apply(c.id, S.APPLIED, None)
    assert done.status is S.APPLIED
    assert len(done.outcome.records) == 3 and done.outcome.finished_at is not None
    with pytest.raises(ChangeRefused):
        await store.finish_apply(c.id, S.FAILED, "again")
    await store.close()


def test_failed_record_may_be_retried_on_resume(store: ChangeStoreSync) -> None:
    cid = _approved(store)
    ref = store.require(cid).plan.records[0].ref
    store.claim_for_apply(cid, "n1", now=NOW)
    store.record_result(cid, RecordResult(ref=ref, ok=False, code="429"), {})
    store.record_result(cid, RecordResult(ref=ref, ok=True), {"jobtitle": "M"})
    assert store.written_refs(cid) == {ref}


def test_record_result_needs_applying(store: ChangeStoreSync) -> None:
    cid = _approved(store)
    with pytest.raises(ChangeRefused, match="not applying"):
        store.record_result(cid, RecordResult(ref="hubspot:contact:1000", ok=True), {})


def test_stale_and_finish_rules(store: ChangeStoreSync) -> None:
    cid = _approved(store)
    store.claim_for_apply(cid, "n", now=NOW)
    stale = store.finish_apply(cid, S.STALE, "hubspot:contact:1000 jobtitle changed")
    assert stale.status is S.STALE and stale.status_detail
    other = store.insert(change())
    assert store.mark_stale(other.id, "manifest changed").status is S.STALE


def test_expire_due(store: ChangeStoreSync) -> None:
    short = store.insert(change(ttl=timedelta(minutes=5)))
    longer = store.insert(change())
    approved = _approved(store, ttl=timedelta(minutes=5))
    assert sorted(store.expire_due(NOW + timedelta(minutes=5))) == sorted([short.id, approved])
    assert store.require(short.id).status is S.EXPIRED
    assert store.require(longer.id).status is S.PROPOSED


def test_list_changes_filters(store: ChangeStoreSync) -> None:
    a = store.insert(change(requester="bot"))
    b = store.insert(change(requester="other", now=NOW + timedelta(minutes=1)))
    _approve(store, b.id)
    assert [c.id for c in store.list_changes()] == [b.id, a.id]
    assert [c.id for c in store.list_changes(status=S.APPROVED)] == [b.id]
    assert [c.id for c in store.list_changes(requester="bot")] == [a.id]


def test_records_proposed_in_the_last_hour(store: ChangeStoreSync) -> None:
    store.insert(change(n=5, now=NOW - timedelta(minutes=90)))
    for minutes in (50, 10, 0):
        store.insert(change(n=3, now=NOW - timedelta(minutes=minutes)))
    store.insert(change(requester="other", n=7, now=NOW))
    assert store.records_proposed_last_hour("bot", NOW) == 9
    assert store.records_proposed_last_hour("other", NOW) == 7
    assert store.records_proposed_last_hour("nobody", NOW) == 0


def test_cancel_only_by_requester_and_only_while_open(store: ChangeStoreSync) -> None:
    c = store.insert(change())
    with pytest.raises(NotPermitted, match="only bot"):
        store.cancel(c.id, "other", now=NOW)
    cancelled = store.cancel(c.id, "bot", "not needed", now=NOW)
    assert cancelled.status is S.CANCELLED and cancelled.cancellation is not None
    with pytest.raises(ChangeRefused, match="is cancelled"):
        store.cancel(c.id, "bot", now=NOW)
    cid = _approved(store)
    store.claim_for_apply(cid, "n", now=NOW)
    with pytest.raises(ChangeRefused, match="is applying"):
        store.cancel(cid, "bot", now=NOW)


def test_frozen_blocks_the_claim(store: ChangeStoreSync, db: Path) -> None:
    cid = _approved(store)
    freeze(db, "incident", "ops")
    with pytest.raises(ChangeRefused, match="frozen") as exc:
        store.claim_for_apply(cid, "n", now=NOW)
    assert exc.value.code == "frozen"
    assert store.require(cid).status is S.APPROVED


def test_link_follow_ups(store: ChangeStoreSync) -> None:
    c = store.insert(change())
    r, f = store.insert(change()), store.insert(change())
    assert store._run(change_sql.link(c.id, "reverted_by", r.id))
    assert store._run(change_sql.link(c.id, "finished_by", f.id))
    got = store.require(c.id)
    assert (got.reverted_by, got.finished_by) == (r.id, f.id)


def test_insert_refuses_non_fresh_change(store: ChangeStoreSync) -> None:
    c = change().model_copy(update={"status": S.APPROVED})
    with pytest.raises(ValueError, match="fresh proposed"):
        store.insert(c)

"""The audit log as an auditor and an operator experience it: every call is there, in order,
durable before the answer, unreadable for secrets, and any edit is caught."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from mopsgate.governance.audit import (
    COLUMNS,
    GENESIS_HASH,
    INSERT_SQL,
    AuditEvent,
    AuditLog,
    append_event_sync,
)
from mopsgate.governance.audit_verify import export_jsonl, tail, verify
from mopsgate.governance.errors import AuditUnavailable

ROOT = Path(__file__).resolve().parents[2]


def allowed(**kw: Any) -> AuditEvent:
    base: dict[str, Any] = dict(
        kind="tool_call",
        principal="alice",
        client_name="claude-desktop",
        client_version="1.4.2",
        transport="stdio",
        tool="marketo.get_leads",
        connector="marketo",
        arguments={"filter_type": "id", "values": [1, 2, 3]},
        decision="allowed",
        rule_id="read-leads",
        reason="rule read-leads allows alice to read leads",
        outcome="ok",
        result_summary="3 records",
        upstream_calls=1,
        duration_ms=12.5,
        manifest_digest="d" * 64,
    )
    base.update(kw)
    return AuditEvent(**base)


def denied(**kw: Any) -> AuditEvent:
    return allowed(
        decision="denied",
        rule_id="deny-delete",
        reason="explicit deny wins",
        outcome="denied",
        error_code="not_permitted",
        tool="marketo.delete_leads",
        upstream_calls=0,
        **kw,
    )


def errored(**kw: Any) -> AuditEvent:
    return allowed(outcome="error", error_code="upstream_error", decision="allowed", **kw)


def rows(db: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    try:
        cur = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_log ORDER BY seq")  # noqa: S608
        return [dict(zip(COLUMNS, r, strict=True)) for r in cur]
    finally:
        conn.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "mopsgate.db"


async def fill(db: Path, n: int) -> None:
    log = await AuditLog.open(db)
    try:
        for i in range(n):
            await log.append(allowed(result_summary=f"call {i}"))
    finally:
        await log.close()


async def test_allowed_denied_and_error_calls_each_leave_one_full_row(db: Path) -> None:
    log = await AuditLog.open(db)
    records = [await log.append(e) for e in (allowed(), denied(), errored(change_id="chg_1"))]
    await log.close()

    assert [r.seq for r in records] == [1, 2, 3]
    stored = rows(db)
    assert [r["decision"] for r in stored] == ["allowed", "denied", "allowed"]
    assert [r["outcome"] for r in stored] == ["ok", "denied", "error"]
    first = stored[0]
    assert first["principal"] == "alice" and first["client_name"] == "claude-desktop"
    assert first["transport"] == "stdio" and first["connector"] == "marketo"
    assert first["rule_id"] == "read-leads" and first["manifest_digest"] == "d" * 64
    assert json.loads(first["arguments"]) == {"filter_type": "id", "values": [1, 2, 3]}
    assert first["duration_ms"] == 12.5 and first["upstream_calls"] == 1
    assert first["prev_hash"] == GENESIS_HASH
    assert stored[1]["error_code"] == "not_permitted"
    assert stored[2]["change_id"] == "chg_1"
    assert stored[1]["prev_hash"] == stored[0]["row_hash"] == records[0].row_hash
    ts = datetime.fromisoformat(records[0].ts)
    assert ts.tzinfo is not None and ts.utcoffset() == UTC.utcoffset(None)
    assert len(records[0].ts.split(".")[1].split("+")[0]) == 6  # microseconds
    assert verify(db).ok


def test_event_model_rejects_unknown_fields_and_is_frozen() -> None:
    with pytest.raises(ValidationError):
        AuditEvent(kind="tool_call", secret_field="x")  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        AuditEvent(kind="bogus")
    event = AuditEvent(kind="startup")
    with pytest.raises(ValidationError):
        event.principal = "mallory"  # type: ignore[misc]


async def test_durability_settings_are_checked_and_enforced(db: Path) -> None:
    log = await AuditLog.open(db)
    await log.append(allowed())
    conn = log._conn
    journal = conn.execute("PRAGMA journal_mode").fetchone()
    sync = conn.execute("PRAGMA synchronous").fetchone()
    await log.close()
    assert journal is not None and journal[0] == "wal"
    assert sync is not None and sync[0] == 2
    with pytest.raises(AuditUnavailable, match="not durable"):
        await AuditLog.open(":memory:")
    with pytest.raises(AuditUnavailable):
        append_event_sync(":memory:", allowed())


@pytest.mark.parametrize(
    ("sql", "bad_seq", "words"),
    [
        ("UPDATE audit_log SET principal = 'mallory' WHERE seq = 5", 5, "edited"),
        ("UPDATE audit_log SET duration_ms = 0.1 WHERE seq = 7", 7, "edited"),
        ("DELETE FROM audit_log WHERE seq = 5", 5, "missing"),
        ("DELETE FROM audit_log WHERE seq = 1", 1, "missing"),
    ],
)
async def test_verify_names_the_first_bad_row(db: Path, sql: str, bad_seq: int, words: str) -> None:
    await fill(db, 10)
    assert verify(db).ok
    with sqlite3.connect(db) as conn:
        conn.execute(sql)
    result = verify(db)
    assert not result.ok
    assert result.first_bad_seq == bad_seq
    assert words in result.problem


async def test_verify_catches_an_inserted_row(db: Path) -> None:
    await fill(db, 10)
    fake = rows(db)[4]
    with sqlite3.connect(db) as conn:  # make room after seq 5 and slip a forged row in
        conn.execute("UPDATE audit_log SET seq = seq + 1000 WHERE seq > 5")
        conn.execute("UPDATE audit_log SET seq = seq - 999 WHERE seq > 1000")
        fake.update(seq=6, principal="mallory", prev_hash=fake["row_hash"], row_hash="f" * 64)
        conn.execute(
            INSERT_SQL,
            [fake[c] for c in COLUMNS],
        )
    result = verify(db)
    assert (result.ok, result.first_bad_seq) == (False, 6)


async def test_verify_catches_reordered_rows(db: Path) -> None:
    await fill(db, 10)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE audit_log SET seq = -1 WHERE seq = 3")
        conn.execute("UPDATE audit_log SET seq = 3 WHERE seq = 4")
        conn.execute("UPDATE audit_log SET seq = 4 WHERE seq = -1")
    result = verify(db)
    assert (result.ok, result.first_bad_seq) == (False, 3)


async def test_tail_truncation_is_only_visible_against_a_checkpoint(db: Path) -> None:
    """Documented limit: cutting the last rows leaves a valid chain; the head hash (the
    checkpoint an operator exports) is what changes."""
    await fill(db, 10)
    checkpoint = verify(db).head_hash
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM audit_log WHERE seq > 8")
    result = verify(db)
    assert result.ok and result.rows == 8
    assert result.head_hash != checkpoint


@pytest.mark.parametrize(
    ("sql", "bad_seq"),
    [
        ("UPDATE audit_log SET tool = 'x' WHERE seq = 37", 37),
        ("DELETE FROM audit_log WHERE seq = 18", 18),  # first row of the second range
        ("DELETE FROM audit_log WHERE seq BETWEEN 18 AND 34", 18),  # a whole range
    ],
)
async def test_verify_split_across_ranges_finds_the_same_row(
    db: Path, sql: str, bad_seq: int
) -> None:
    import mopsgate.governance.audit_verify as av

    await fill(db, 50)
    assert av._ranges(1, 50, 3) == [(1, 17), (18, 34), (35, 50)]
    with sqlite3.connect(db) as conn:
        conn.execute(sql)
    parallel = av._stitch([av._scan(str(db), a, b) for a, b in av._ranges(1, 50, 3)])
    assert (parallel.ok, parallel.first_bad_seq) == (False, bad_seq)
    assert verify(db, workers=1).first_bad_seq == bad_seq


async def test_disk_full_refuses_the_call_and_the_log_recovers(db: Path) -> None:
    log = await AuditLog.open(db)
    await log.append(allowed())
    conn = log._conn
    pages = conn.execute("PRAGMA page_count").fetchone()
    assert pages is not None
    conn.execute(f"PRAGMA max_page_count = {pages[0] + 1}")
    big = {f"field_{i}": "x" * 4000 for i in range(60)}
    with pytest.raises(AuditUnavailable) as info:
        await log.append(allowed(arguments=big))
    assert "could not be written, so the call was refused" in info.value.message
    assert "disk is not full" in info.value.hint
    conn.execute("PRAGMA max_page_count = 1073741823")
    record = await log.append(allowed(arguments=big))
    await log.close()
    assert record.seq == 2
    check = sqlite3.connect(db)
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check.close()
    assert verify(db).ok and verify(db).rows == 2


async def test_a_lock_held_too_long_fails_closed_then_recovers(db: Path) -> None:
    log = await AuditLog.open(db, busy_timeout_ms=100)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(AuditUnavailable):
        await log.append(allowed())
    other.execute("ROLLBACK")
    other.close()
    assert (await log.append(allowed())).seq == 1
    await log.close()
    with pytest.raises(AuditUnavailable, match="closed"):
        await log.append(allowed())


async def test_a_dead_writer_never_leaves_a_caller_waiting(db: Path) -> None:
    log = await AuditLog.open(db)
    assert log._task is not None
    log._task.cancel()
    with pytest.raises(AuditUnavailable):
        await log.append(allowed())
    await log.close()


async def test_unwritable_location_is_audit_unavailable(tmp_path: Path) -> None:
    with pytest.raises(AuditUnavailable):
        await AuditLog.open(tmp_path / "no" / "such" / "dir" / "mopsgate.db")
    with pytest.raises(AuditUnavailable):
        append_event_sync(tmp_path / "no" / "such" / "mopsgate.db", allowed())


async def test_500_concurrent_appends_are_contiguous_and_chained(db: Path) -> None:
    log = await AuditLog.open(db)
    records = await asyncio.gather(
        *(log.append(allowed(result_summary=str(i))) for i in range(500))
    )
    await log.close()
    assert sorted(r.seq for r in records) == list(range(1, 501))
    assert len(rows(db)) == 500
    result = verify(db)
    assert result.ok and result.rows == 500


async def test_other_processes_appending_never_fork_the_chain(db: Path) -> None:
    log = await AuditLog.open(db)
    await log.append(allowed())
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from mopsgate.governance.audit import AuditEvent, append_event_sync
        for i in range(25):
            append_event_sync({str(db)!r}, AuditEvent(kind="review", principal="bob",
                              transport="cli", change_id=f"chg_{{i}}"))
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(2)]
    mine = asyncio.gather(*(log.append(allowed()) for _ in range(200)))
    thread = asyncio.to_thread(append_event_sync, db, AuditEvent(kind="freeze", principal="ops"))
    await asyncio.gather(mine, thread)
    for proc in procs:
        assert await asyncio.to_thread(proc.wait) == 0
    await log.append(allowed())
    await log.close()
    result = verify(db)
    assert result.ok, result
    assert result.rows == 1 + 50 + 200 + 1 + 1
    assert [r["seq"] for r in rows(db)] == list(range(1, result.rows + 1))


async def test_pii_and_secret_canaries_never_reach_the_disk(db: Path) -> None:
    canaries = ["canary.person", "415 555 0199", "4155550199", "CANARYSECRET", "CANARYCONFIRM"]
    arguments = {
        "email": "canary.person@example.org",
        "note": "call +1 415 555 0199 or canary.person@example.org",
        "nested": [{"phone": "4155550199", "firstName": "Canaryfirst"}],
        "access_token": "tok_CANARYSECRET_0001",
        "confirmation_token": "ct.CANARYCONFIRM.sig",
        "headers": {"Authorization": "Bearer CANARYSECRET0123456789"},
    }
    log = await AuditLog.open(db)
    await log.append(allowed(arguments=arguments, reason="upstream said canary.person@example.org"))
    raw = b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))
    assert Path(f"{db}-wal").exists()
    await log.close()
    append_event_sync(db, AuditEvent(kind="token", arguments=arguments))
    raw += b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))
    for canary in [*canaries, "Canaryfirst"]:
        assert canary.encode() not in raw, canary
    stored = json.loads(rows(db)[0]["arguments"])
    assert stored["email"] == "c***@example.org"
    assert stored["access_token"].startswith("sha256:")
    assert stored["nested"][0] == {"phone": "***-0199", "firstName": "C***"}


async def test_hostile_text_round_trips_as_data(db: Path) -> None:
    nasty = 'line1\nline2\x1b[31mred\x1b[0m \'; DROP TABLE audit_log; -- {"seq": 0}'
    log = await AuditLog.open(db)
    await log.append(allowed(arguments={"description": nasty}, result_summary=nasty))
    await log.append(allowed(arguments={"weird": "\ud800 lone surrogate"}))
    await log.close()
    assert verify(db).ok
    assert tail(db, 5)[0]["arguments"]["description"] == nasty
    import io

    buf = io.StringIO()
    assert export_jsonl(db, buf) == 2
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])["result_summary"] == nasty


def test_verify_with_worker_processes(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mopsgate.governance.audit_verify as av

    for _ in range(30):
        append_event_sync(db, allowed())
    monkeypatch.setattr(av, "PARALLEL_MIN_ROWS", 0)
    assert verify(db, workers=2).rows == 30
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 22")
    assert verify(db, workers=2).first_bad_seq == 22

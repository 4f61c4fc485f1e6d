"""What only the SQLite audit log has to prove: durability settings, failing closed on a full
disk or a held lock, several processes on one file, the forked verifier, and that nothing but
the connection's own thread can touch it."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
from pathlib import Path

import pytest

import mopsgate.storage.sqlite.audit_read as audit_read
from mopsgate.governance.audit_chain import (
    AuditEvent,
    Segment,
    VerifyResult,
    check_rows,
    split_ranges,
    stitch,
)
from mopsgate.governance.errors import AuditUnavailable
from mopsgate.storage import StorageConfig, append_once, audit_reader, open_storage
from mopsgate.storage.errors import StorageUnavailable
from mopsgate.storage.sqlite.audit import SqliteAuditStore
from tests.storage.events import allowed
from tests.support.cli_forks import cli_forks


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "mopsgate.db"


def verify(db: Path, workers: int | None = None) -> VerifyResult:
    return asyncio.run(audit_reader(StorageConfig.sqlite(db)).verify(workers=workers))


async def fill(db: Path, n: int) -> None:
    log = await SqliteAuditStore.open(db)
    try:
        for i in range(n):
            await log.append(allowed(result_summary=f"call {i}"))
    finally:
        await log.close()


async def test_durability_settings_are_checked_and_enforced(db: Path) -> None:
    log = await SqliteAuditStore.open(db)
    await log.append(allowed())
    journal = await log.db.call(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0])
    sync_level = await log.db.call(lambda c: c.execute("PRAGMA synchronous").fetchone()[0])
    await log.close()
    assert journal == "wal" and sync_level == 2
    with pytest.raises(AuditUnavailable, match="not durable"):
        await SqliteAuditStore.open(":memory:")
    with pytest.raises(AuditUnavailable, match="not durable"):
        await append_once(StorageConfig.sqlite(":memory:"), allowed())


async def test_the_event_loop_cannot_use_a_connection(db: Path) -> None:
    """Nothing touches the database on the event loop: sqlite3 itself refuses a statement from
    any thread but the connection's own."""
    log = await SqliteAuditStore.open(db)
    try:
        conn = await log.db.call(lambda c: c)
        with pytest.raises(sqlite3.ProgrammingError, match="thread"):
            conn.execute("SELECT 1")
    finally:
        await log.close()


async def test_disk_full_refuses_the_call_and_the_log_recovers(db: Path) -> None:
    log = await SqliteAuditStore.open(db)
    await log.append(allowed())
    pages = await log.db.call(lambda c: int(c.execute("PRAGMA page_count").fetchone()[0]))
    await log.db.call(lambda c: c.execute(f"PRAGMA max_page_count = {pages + 1}"))
    big = {f"field_{i}": "x" * 4000 for i in range(60)}
    with pytest.raises(AuditUnavailable) as info:
        await log.append(allowed(arguments=big))
    assert "could not be written, so the call was refused" in info.value.message
    assert "is full" in info.value.message and "Free some space" in info.value.hint
    await log.db.call(lambda c: c.execute("PRAGMA max_page_count = 1073741823"))
    record = await log.append(allowed(arguments=big))
    await log.close()
    assert record.seq == 2
    check = sqlite3.connect(db)
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check.close()
    result = await audit_reader(StorageConfig.sqlite(db)).verify()
    assert result.ok and result.rows == 2


async def test_a_lock_held_too_long_fails_closed_then_recovers(db: Path) -> None:
    log = await SqliteAuditStore.open(db, busy_timeout_ms=100)
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


async def test_a_closed_connection_never_leaves_a_caller_waiting(db: Path) -> None:
    log = await SqliteAuditStore.open(db)
    await log.append(allowed())
    await log.db.close()  # the connection goes away under the writer
    with pytest.raises(AuditUnavailable, match="could not be written"):
        await log.append(allowed())
    await log.close()
    assert (await audit_reader(StorageConfig.sqlite(db)).verify()).rows == 1


async def test_rows_handed_in_before_close_are_committed(db: Path) -> None:
    log = await SqliteAuditStore.open(db)
    pending = [asyncio.ensure_future(log.append(allowed())) for _ in range(30)]
    await asyncio.sleep(0)  # every append has handed its row to the writer
    await log.close()
    assert sorted([(await p).seq for p in pending]) == list(range(1, 31))
    result = await audit_reader(StorageConfig.sqlite(db)).verify()
    assert result.ok and result.rows == 30


async def test_unwritable_location_is_refused(tmp_path: Path) -> None:
    nowhere = tmp_path / "no" / "such" / "dir" / "mopsgate.db"
    with pytest.raises(AuditUnavailable):
        await SqliteAuditStore.open(nowhere)
    with pytest.raises(AuditUnavailable):
        await append_once(StorageConfig.sqlite(nowhere), allowed())
    with pytest.raises(StorageUnavailable, match=r"cannot be opened \(its directory is missing"):
        await open_storage(StorageConfig.sqlite(nowhere))


async def test_other_processes_appending_never_fork_the_chain(db: Path) -> None:
    storage = await open_storage(StorageConfig.sqlite(db))
    await storage.audit.append(allowed())
    forks = cli_forks()  # two processes of their own, forked: tests/support/cli_forks.py
    cli_like = ["append-once", json.dumps({"db": str(db), "n": 25})]
    procs = [forks.start_module("tests.support.replica", cli_like, os.environ) for _ in range(2)]
    mine = asyncio.gather(*(storage.audit.append(allowed()) for _ in range(200)))
    other = append_once(StorageConfig.sqlite(db), AuditEvent(kind="freeze", principal="ops"))
    await asyncio.gather(mine, other)
    for proc in procs:
        ended = await forks.finished(proc)
        assert ended.returncode == 0, ended.stderr
    await storage.audit.append(allowed())
    result = await storage.audit_reader.verify()
    seqs = [row.seq async for row in storage.audit_reader.rows()]
    await storage.close()
    assert result.ok, result
    assert result.rows == 1 + 50 + 200 + 1 + 1
    assert seqs == list(range(1, result.rows + 1))


async def test_canaries_never_reach_the_file_or_its_wal(db: Path) -> None:
    arguments = {"email": "canary.person@example.org", "token": "tok_CANARYSECRET_0001"}
    log = await SqliteAuditStore.open(db)
    await log.append(allowed(arguments=arguments, reason="said canary.person@example.org"))
    assert Path(f"{db}-wal").exists()
    raw = b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))
    await log.close()
    await append_once(StorageConfig.sqlite(db), AuditEvent(kind="token", arguments=arguments))
    raw += b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))
    for canary in (b"canary.person", b"CANARYSECRET"):
        assert canary not in raw, canary


async def test_rows_stream_page_by_page(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_read, "PAGE", 4)
    await fill(db, 11)
    reader = audit_reader(StorageConfig.sqlite(db))
    assert [row.seq async for row in reader.rows()] == list(range(1, 12))
    assert [row.seq async for row in reader.rows(after_seq=8)] == [9, 10, 11]


@pytest.mark.parametrize(
    ("statement", "bad_seq"),
    [
        ("UPDATE audit_log SET tool = 'x' WHERE seq = 37", 37),
        ("DELETE FROM audit_log WHERE seq = 18", 18),  # first row of the second range
        ("DELETE FROM audit_log WHERE seq BETWEEN 18 AND 34", 18),  # a whole range
    ],
)
async def test_verify_split_across_ranges_finds_the_same_row(
    db: Path, statement: str, bad_seq: int
) -> None:
    await fill(db, 50)
    assert split_ranges(1, 50, 3) == [(1, 17), (18, 34), (35, 50)]
    with sqlite3.connect(db) as conn:
        conn.execute(statement)
    conn = sqlite3.connect(db)
    try:
        parallel = stitch([audit_read._scan_conn(conn, a, b) for a, b in split_ranges(1, 50, 3)])
    finally:
        conn.close()
    assert (parallel.ok, parallel.first_bad_seq) == (False, bad_seq)
    result = await audit_reader(StorageConfig.sqlite(db)).verify(workers=1)
    assert result.first_bad_seq == bad_seq


def test_verify_with_worker_processes(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's path: a process with no other thread alive forks one checker per range."""
    asyncio.run(fill(db, 30))
    monkeypatch.setattr(audit_read, "PARALLEL_MIN_ROWS", 0)
    in_this_process: list[tuple[int, int]] = []
    real_scan = audit_read._scan_conn

    def scan(conn: sqlite3.Connection, lo: int, hi: int) -> Segment:
        in_this_process.append((lo, hi))  # a forked child appends to its own copy
        return real_scan(conn, lo, hi)

    monkeypatch.setattr(audit_read, "_scan_conn", scan)
    assert verify(db, workers=2).rows == 30
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 22")
    assert verify(db, workers=2).first_bad_seq == 22
    assert in_this_process == [], "the ranges were checked in child processes"
    assert verify(db, workers=1).first_bad_seq == 22
    assert in_this_process == [(1, 30)]


@pytest.mark.parametrize("edit", [None, "UPDATE audit_log SET reason = 'edited' WHERE seq = 2"])
def test_a_row_sqlite_writes_otherwise_than_python_gets_the_same_verdict(db: Path, edit) -> None:
    """Verification hashes SQLite's own JSON of each row; where SQLite writes a value otherwise
    than the canonical JSON (a float of 1e16: "1.0e+16" against "1e+16") the row is checked
    again from its values: intact rows still verify, an edit is still named at its seq."""

    async def odd_rows() -> None:
        log = await SqliteAuditStore.open(db)
        try:
            for duration in (1.5, 1e16, 2.25):
                await log.append(allowed(duration_ms=duration))
        finally:
            await log.close()

    asyncio.run(odd_rows())
    with sqlite3.connect(db) as conn:
        sqlite_json = conn.execute(
            "SELECT json_array(duration_ms) FROM audit_log WHERE seq = 2"
        ).fetchone()[0]
        assert sqlite_json != "[1e+16]"  # the case this test is about
        if edit:
            conn.execute(edit)
    result = verify(db, workers=1)
    assert (result.ok, result.first_bad_seq) == ((True, None) if edit is None else (False, 2))
    legacy = check_rows(sqlite3.connect(db).execute(audit_read.select_sql(sqlite3.connect(db))))
    assert (legacy.bad_seq is None) == result.ok  # the Python-only check agrees


def test_a_corrupt_row_is_named_not_a_crash(db: Path) -> None:
    asyncio.run(fill(db, 5))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE audit_log SET upstream_calls = x'00ff' WHERE seq = 3")
    result = verify(db, workers=1)
    assert (result.ok, result.first_bad_seq) == (False, 3)


async def test_an_audit_log_on_a_network_filesystem_is_refused(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """L-13: the state directory on NFS (as the kernel's mount table says) is refused at open,
    naming the filesystem and what to do; nothing is written. A local one opens."""
    import mopsgate.storage.sqlite.filesystem as fs

    table = tmp_path / "mounts"
    table.write_text(f"/dev/sda1 / ext4 rw 0 0\nserver:/export {db.parent} nfs4 rw 0 0\n")
    monkeypatch.setattr(fs, "MOUNTS", table)
    with pytest.raises(AuditUnavailable, match=r"network filesystem \(nfs4\)") as exc:
        await SqliteAuditStore.open(db)
    assert "local disk" in (exc.value.hint or "")
    with pytest.raises(AuditUnavailable, match="network filesystem"):
        await append_once(StorageConfig.sqlite(db), allowed())
    table.write_text("/dev/sda1 / ext4 rw 0 0\n")
    log = await SqliteAuditStore.open(db)
    await log.append(allowed())
    await log.close()


def test_the_mount_holding_a_path_decides() -> None:
    from mopsgate.storage.sqlite.filesystem import filesystem_type, network_filesystem

    table = (
        "/dev/sda1 / ext4 rw 0 0\n"
        "srv:/a /srv/share nfs rw 0 0\n"
        "/dev/sdb1 /srv/share/local ext4 rw 0 0\n"
        "//nas/x /mnt/my\\040drive cifs rw 0 0\n"
    )
    assert network_filesystem("/srv/share/db/mopsgate.db", table) == "nfs"
    assert network_filesystem("/srv/share/local/mopsgate.db", table) is None
    assert network_filesystem("/srv/shared/mopsgate.db", table) is None  # a prefix, not a mount
    assert network_filesystem("/mnt/my drive/state/mopsgate.db", table) == "cifs"
    assert filesystem_type("/etc/passwd", table) == "ext4"

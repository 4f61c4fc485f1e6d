"""The audit writer killed mid-insert, 40 times (catalogue L-05).

A forked child appends rows as fast as it can, printing each row's seq once it is committed;
the parent SIGKILLs it after a random number of them, so the kill lands at a random point of an
insert. After every kill the file opens, ``PRAGMA integrity_check`` is ok, the chain verifies,
every row the child reported committed is there (synchronous=FULL), and the last row is whole.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
from pathlib import Path

import pytest

from mopsgate.storage import StorageConfig, audit_reader
from mopsgate.storage.sqlite.audit import SqliteAuditStore
from tests.storage.events import allowed

# Each kill is a trial of its own: a fresh writer, killed inside whichever insert it is in, about
# 35 ms of CPU. 40 trials keep the landing points varied; 100 made this one test 6 s of the suite.
KILLS = 40


def _append_forever(db: Path, out: int) -> None:
    async def run() -> None:
        log = await SqliteAuditStore.open(db)
        while True:
            record = await log.append(allowed(result_summary="x" * random.randint(1, 3000)))
            os.write(out, f"{record.seq}\n".encode())

    asyncio.run(run())


def _committed_then_killed(db: Path, after: int) -> int:
    """Fork a writer, kill it after ``after`` committed rows; the highest seq it reported."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read)
            _append_forever(db, write)
        finally:
            os._exit(1)
    os.close(write)
    seen: list[int] = []
    with os.fdopen(read, "rb", buffering=0) as pipe:
        buffer = b""
        while len(seen) < after:
            chunk = pipe.read(64)
            assert chunk, "the writer died on its own"
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            seen += [int(line) for line in lines]
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    return max(seen)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_kill_9_mid_insert_never_breaks_the_log(tmp_path: Path) -> None:
    db = tmp_path / "mopsgate.db"
    rng = random.Random(13)
    for _ in range(KILLS):
        reported = _committed_then_killed(db, rng.randint(1, 12))
        conn = sqlite3.connect(db)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            seq, summary, row_hash = conn.execute(
                "SELECT seq, result_summary, row_hash FROM audit_log ORDER BY seq DESC LIMIT 1"
            ).fetchone()
        finally:
            conn.close()
        assert seq >= reported  # nothing the writer was told is durable went missing
        assert summary.startswith("x") and len(row_hash) == 64  # whole, not torn
        result = asyncio.run(audit_reader(StorageConfig.sqlite(db)).verify())
        assert result.ok and result.rows == seq, result

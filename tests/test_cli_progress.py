"""Long CLI work shows a progress bar on a terminal and nothing when piped: ``audit verify``
run in a pseudo-terminal, then with its output captured; and the verifier's own progress
reports, chunk by chunk, up to every row."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mopsgate.governance.audit_chain import (
    AuditEvent,
    AuditHead,
    VerifyResult,
    chain_rows,
    event_values,
)
from mopsgate.storage.sqlite import audit_read
from mopsgate.storage.sqlite.audit import INSERT_SQL
from mopsgate.storage.sqlite.audit_read import SqliteAuditReader
from mopsgate.storage.sqlite.schema import prepare
from tests.support.cli_forks import cli_forks

MOPSGATE = str(Path(sys.executable).parent / "mopsgate")
ROWS = 2_000
BAR_TITLE = "Checking the hash chain"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A state directory whose audit log holds ROWS chained rows (the writer's chaining)."""
    home = tmp_path / "state"
    home.mkdir()
    event = AuditEvent(kind="tool_call", principal="alice", tool="whoami", decision="allowed")
    conn = sqlite3.connect(home / "mopsgate.db", isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        prepare(conn)
        conn.executemany(INSERT_SQL, chain_rows(AuditHead(), [event_values(event)] * ROWS))
        conn.execute("COMMIT")
    finally:
        conn.close()
    return home


def _env() -> dict[str, str]:
    return {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}


def run_in_terminal(*args: str) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pseudo-terminal; what the terminal showed."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [MOPSGATE, *args], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=_env()
    )
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    return proc.wait(timeout=60), shown.decode(errors="replace")


def test_verify_draws_a_bar_on_a_terminal(home: Path) -> None:
    code, raw = run_in_terminal("audit", "verify", "--home", str(home))
    shown = ANSI.sub("", raw)
    assert code == 0, shown
    assert "\x1b[" in raw  # drawn with the terminal's control codes
    assert BAR_TITLE in shown
    assert f"{ROWS}/{ROWS} rows" in shown
    assert f"OK: {ROWS} rows, chain intact" in shown


def test_verify_piped_prints_no_bar(home: Path) -> None:
    """Output captured, not a terminal: a process of its own, forked from the fork server
    (the terminal case above runs the console script itself)."""
    proc = cli_forks().run(["audit", "verify", "--home", str(home)], _env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"OK: {ROWS} rows, chain intact")
    assert BAR_TITLE not in proc.stdout + proc.stderr
    assert "\x1b[" not in proc.stdout + proc.stderr  # no terminal control codes at all


def test_verify_reports_every_chunk(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Progress grows chunk by chunk to the row count; a break is still named exactly."""
    monkeypatch.setattr(audit_read, "CHUNK_ROWS", 500)
    heard: list[tuple[float, float | None]] = []

    async def listen(progress: float, total: float | None = None, message: str | None = None):
        heard.append((progress, total))

    async def verify() -> VerifyResult:
        reader = SqliteAuditReader(home / "mopsgate.db")
        try:
            return await reader.verify(workers=1, progress=listen)
        finally:
            await reader.close()

    result = asyncio.run(verify())
    assert result.ok and result.rows == ROWS
    assert heard == [(n, ROWS) for n in (500, 1000, 1500, 2000)]

    with sqlite3.connect(home / "mopsgate.db") as conn:
        conn.execute("UPDATE audit_log SET principal = 'mallory' WHERE seq = 1234")
    heard.clear()
    result = asyncio.run(verify())
    assert not result.ok and result.first_bad_seq == 1234
    # the broken chunk counts the rows checked up to the break; the chunk after, all of its
    assert [p for p, _ in heard] == [500, 1000, 1233, 1733]

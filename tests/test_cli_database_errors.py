"""A locked or read-only database, as an operator meets it: every command that touches it says
in one line what is wrong and what to do (never a traceback), changes nothing, and the audit
log can still be verified on a read-only copy (forensics on exported media).

Found by a fault run: a long write lock held by another process, and a state directory made
read-only, ended ``review approve``, ``token create``, ``freeze`` and ``serve`` in
``OperationalError`` tracebacks, and ``audit verify`` could not read a 0444 copy in a 0555
directory at all.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.support.cli_forks import cli_forks, without_root_override
from tests.support.stdio_serve import mopsgate_env


@pytest.fixture
def seeded(connect, settings: Settings) -> tuple[Settings, str]:
    """A state directory in use: a proposed change, a token, audit rows."""
    import anyio

    async def propose() -> str:
        async with connect("assistant") as client:
            result = await client.call_tool(
                "propose_update_person",
                {
                    "refs": ["hubspot:contact:1001"],
                    "fields": {"jobtitle": "Head of Testing"},
                    "reason": "fault run: state to lock",
                },
            )
        return str(result.structured_content["change_id"])

    change_id = anyio.run(propose)
    # Setup, not the case: in-process (the commands under test each run as their own process,
    # forked from a fork server: tests/support/cli_forks.py).
    home = ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    made = CliRunner().invoke(app, ["token", "create", "--principal", "analyst", *home])
    assert made.exit_code == 0, made.output
    return settings, change_id


def _run(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return cli_forks().run(args, mopsgate_env(settings))


def _all(
    settings: Settings,
    commands: dict[str, list[str]],
    *,
    as_user: bool = False,
    lock_wait_ms: int | None = None,
) -> dict[str, tuple[int, str, str]]:
    """Run the commands side by side, each its own process (each may wait out the lock):
    (exit code, stderr, stdout). ``as_user``: without root's file-mode override;
    ``lock_wait_ms``: MOPSGATE_LOCK_WAIT_MS for them."""
    forks = cli_forks(as_user=as_user)
    env = mopsgate_env(settings)
    if lock_wait_ms is not None:
        env["MOPSGATE_LOCK_WAIT_MS"] = str(lock_wait_ms)
    started = {name: forks.start(args, env) for name, args in commands.items()}
    results = {}
    for name, forked in started.items():
        done = forks.wait(forked, timeout=90)
        results[name] = (done.returncode, done.stderr, done.stdout)
    return results


def _writers(change_id: str) -> dict[str, list[str]]:
    return {
        "review approve": ["review", "approve", change_id, "--reviewer", "mops-lead"],
        "review reject": [
            "review",
            "reject",
            change_id,
            "--reviewer",
            "mops-lead",
            "--reason",
            "x",
        ],
        "token create": ["token", "create", "--principal", "assistant"],
        "token revoke": ["token", "revoke", "--principal", "analyst"],
        "freeze": ["freeze", "--reason", "incident drill"],
        "unfreeze": ["unfreeze"],
        "serve": ["serve", "--transport", "stdio", "--principal", "assistant"],
    }


READERS = {
    "audit tail": ["audit", "tail"],
    "audit verify": ["audit", "verify"],
    "audit export": ["audit", "export"],
    "db status": ["db", "status"],
    "manifest explain": ["manifest", "explain", "--principal", "assistant"],
}


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "Error:" not in err.split("mopsgate:")[0]
    return lines[0]


def _state(settings: Settings, change_id: str) -> tuple[object, ...]:
    conn = sqlite3.connect(settings.db_path)
    try:
        return (
            conn.execute("SELECT status FROM changes WHERE id = ?", (change_id,)).fetchone(),
            conn.execute("SELECT COUNT(*), SUM(revoked) FROM bearer_tokens").fetchone(),
            conn.execute("SELECT COUNT(*) FROM freeze_state").fetchone(),
            len(audit_rows(settings)),
        )
    finally:
        conn.close()


@pytest.fixture
def write_lock(seeded) -> Iterator[None]:
    """Another process holds a long write transaction (here: a connection of the test's)."""
    settings, _ = seeded
    holder = sqlite3.connect(settings.db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    yield
    holder.execute("ROLLBACK")
    holder.close()


def test_a_locked_database_is_one_line_for_every_command_and_changes_nothing(seeded, write_lock):
    settings, change_id = seeded
    before = _state(settings, change_id)
    commands = {**_writers(change_id), **READERS, "review list": ["review", "list"]}
    results = _all(settings, commands, lock_wait_ms=300)  # not the default 5 s: the lock stays
    for name in _writers(change_id):
        code, err, _ = results[name]
        line = _one_line(err)
        assert code == (2 if name == "serve" else 1), (name, err)
        assert "is locked: another process has held a write lock" in line, (name, line)
        assert "Nothing was changed" in line and "fuser" in line
    for name in READERS:  # reading needs no lock: auditors can work beside a stuck writer
        assert results[name][0] == 0, (name, results[name][1])
    assert results["review list"][0] in (0, 1) and "Traceback" not in results["review list"][1]
    assert _state(settings, change_id) == before


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _make_read_only(folder: Path) -> None:
    for path in folder.iterdir():
        path.chmod(0o444)
    folder.chmod(0o555)


@pytest.fixture
def read_only_home(seeded) -> Iterator[Settings]:
    settings, _ = seeded
    _make_read_only(settings.home)
    probe = subprocess.run(
        [sys.executable, "-c", f"open({str(settings.home / 'probe')!r}, 'w')"],
        preexec_fn=without_root_override,
        capture_output=True,
    )
    if probe.returncode == 0:  # pragma: no cover - only where root cannot drop the override
        settings.home.chmod(0o700)
        pytest.skip("cannot make a directory read-only for this process")
    yield settings
    settings.home.chmod(0o700)
    for path in settings.home.iterdir():
        path.chmod(0o600)


def test_a_read_only_state_dir_is_one_line_for_every_writer(seeded, read_only_home):
    settings, change_id = seeded
    before = _digest(settings.home)
    results = _all(
        settings,
        {**_writers(change_id), **READERS},
        as_user=True,
    )
    for name in _writers(change_id):
        code, err, _ = results[name]
        line = _one_line(err)
        assert code == (2 if name == "serve" else 1), (name, err)
        assert "is read-only for this user" in line and "Nothing was changed" in line, line
    for name in READERS:
        assert results[name][0] == 0, (name, results[name][1])
    assert results["audit verify"][2].startswith("OK:")
    assert _digest(settings.home) == before  # not one byte written


def _export(settings: Settings, target: Path, keep: tuple[str, ...]) -> Path:
    """Copy the state database as a server would leave it mid-run (unmerged write-ahead log)."""
    target.mkdir()
    for suffix in keep:
        source = Path(f"{settings.db_path}{suffix}")
        if source.exists():
            shutil.copyfile(source, target / f"mopsgate.db{suffix}")
    _make_read_only(target)
    return target


@pytest.mark.parametrize(
    "keep",
    [
        pytest.param(("",), id="checkpointed-db-only"),
        pytest.param(("", "-wal", "-shm"), id="db-wal-shm"),
        pytest.param(("", "-wal"), id="db-and-wal-without-shm"),
    ],
)
def test_audit_verify_works_on_a_read_only_copy(seeded, tmp_path, keep):
    settings, _ = seeded
    holder = sqlite3.connect(settings.db_path, isolation_level=None)
    try:
        holder.execute("PRAGMA wal_autocheckpoint=0")  # like a running server: rows in the WAL
        assert _run(settings, "freeze", "--reason", "before export").returncode == 0
        if keep == ("",):
            holder.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = len(audit_rows(settings))
        exported = _export(settings, tmp_path / "evidence", keep)
    finally:
        holder.close()
    before = _digest(exported)
    copy = Settings(settings.manifest_path, exported)
    results = _all(
        copy,
        {
            "verify": ["audit", "verify"],
            "tail": ["audit", "tail", "-n", "1"],
            # A risk owner's reading commands work on exported evidence too (from a copy).
            "report": ["report", "risk-review", "--since", "1d", "--format", "json"],
            "review list": ["review", "list"],
            "manifest history": ["manifest", "history"],
        },
        as_user=True,
    )
    after = _digest(exported)
    exported.chmod(0o755)
    code, err, out = results["verify"]
    assert code == 0, err
    assert out.startswith(f"OK: {rows} rows, chain intact"), out  # the WAL's rows included
    assert results["tail"][0] == 0 and "freeze" in results["tail"][2]
    code, err, out = results["report"]
    assert code == 0, err
    report = json.loads(out)
    assert "before export" in out, out[:2000]  # the freeze still in the WAL is reported
    assert report, out
    code, err, out = results["review list"]
    assert code == 0 and "proposed" in out, (err, out)  # the seeded change
    assert results["manifest history"][0] == 0, results["manifest history"][1]
    assert after == before  # nothing written, nothing created beside the evidence


@pytest.mark.parametrize("value", ["0", "-5", "soon", "600001"])
def test_a_lock_wait_that_cannot_be_used_is_refused_by_name(seeded, value: str):
    """MOPSGATE_LOCK_WAIT_MS is checked, never guessed: 0 would fail every brief lock and a
    huge wait would hang every command. The refusal names the setting and changes nothing."""
    settings, change_id = seeded
    before = _state(settings, change_id)
    env = {**mopsgate_env(settings), "MOPSGATE_LOCK_WAIT_MS": value}
    forks = cli_forks()
    for args in (["freeze", "--reason", "drill"], ["serve", "--transport", "stdio"]):
        done = forks.wait(forks.start(args, env), timeout=90)
        line = _one_line(done.stderr)
        assert done.returncode == 2, (args, done.stderr)
        assert (
            f"MOPSGATE_LOCK_WAIT_MS must be whole milliseconds from 1 to 600000, not {value!r}"
            in line
        )
    assert _state(settings, change_id) == before

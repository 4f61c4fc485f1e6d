"""§3 The audit log: the writer alone vs raw sqlite3, and ``mopsgate audit verify`` on 1M rows.

Writer: ``SqliteAuditStore.append`` from N concurrent tasks (group commit) and from one task,
each row durable (WAL, synchronous=FULL) before ``append`` returns. Baselines in the same run, same
table, same pragmas, same row values: stdlib ``sqlite3`` with one INSERT+COMMIT per row (the
naive durable writer) and with ``executemany`` batches as large as the concurrency (the best a
group commit can do). Verify: a 1,000,000-row chain built with the writer's own chaining code,
then the real CLI timed as a subprocess.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sqlite3
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.common import MOPSGATE, child_env

VERIFY_TARGET_S = 5.0  # #15


def sample_event() -> Any:
    from mopsgate.governance.audit_chain import AuditEvent

    return AuditEvent(
        kind="tool_call",
        principal="assistant",
        client_name="bench",
        client_version="1.0",
        transport="memory",
        tool="get_person",
        connector="hubspot",
        arguments={"ref": "hubspot:contact:1051"},
        decision="allowed",
        rule_id="assistant-read",
        reason="allowed by assistant-read",
        outcome="ok",
        result_summary="read hubspot:contact:1051",
        upstream_calls=1,
        duration_ms=1.234,
        manifest_digest="ab" * 32,
    )


async def audit_log_rows(path: Path, appenders: int, per_appender: int) -> float:
    from mopsgate.storage.sqlite.audit import SqliteAuditStore

    log = await SqliteAuditStore.open(path)
    event = sample_event()
    try:
        for _ in range(20):
            await log.append(event)

        async def appender() -> None:
            for _ in range(per_appender):
                await log.append(event)

        t0 = time.perf_counter()
        await asyncio.gather(*(appender() for _ in range(appenders)))
        wall = time.perf_counter() - t0
    finally:
        await log.close()
    return appenders * per_appender / wall


def _create_schema(conn: sqlite3.Connection) -> None:
    """The production schema, created the way mopsgate creates a new file."""
    from mopsgate.storage.sqlite.schema import prepare

    conn.execute("BEGIN IMMEDIATE")
    prepare(conn)
    conn.execute("COMMIT")


def _raw_conn(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    _create_schema(conn)
    return conn


def raw_rows(path: Path, rows: int, batch: int) -> float:
    """Prebuilt rows (no hashing, no masking): the cost of the SQL and the fsyncs alone."""
    from mopsgate.governance.audit_chain import AuditHead, chain_rows, event_values
    from mopsgate.storage.sqlite.audit import INSERT_SQL

    values = event_values(sample_event())
    prebuilt = chain_rows(AuditHead(), [values] * rows)
    conn = _raw_conn(path)
    try:
        t0 = time.perf_counter()
        for start in range(0, rows, batch):
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(INSERT_SQL, prebuilt[start : start + batch])
            conn.execute("COMMIT")
        wall = time.perf_counter() - t0
    finally:
        conn.close()
    return rows / wall


async def writer_throughput(tmp: Path, reps: int, appenders: int, rows: int) -> dict[str, Any]:
    variants: dict[str, Callable[[Path], Awaitable[float]]] = {
        f"audit writer, {appenders} concurrent tasks": lambda p: audit_log_rows(
            p, appenders, rows // appenders
        ),
        "audit writer, 1 task": lambda p: audit_log_rows(p, 1, rows // 4),
        "raw sqlite3, INSERT+COMMIT per row": lambda p: asyncio.to_thread(
            raw_rows, p, rows // 4, 1
        ),
        f"raw sqlite3, executemany batches of {appenders}": lambda p: asyncio.to_thread(
            raw_rows, p, rows, appenders
        ),
    }
    results: dict[str, list[float]] = {k: [] for k in variants}
    for rep in range(reps):
        for k, (name, fn) in enumerate(variants.items()):
            results[name].append(await fn(tmp / f"audit-{rep}-{k}.db"))
    rows_per_s = {k: statistics.median(v) for k, v in results.items()}
    names = list(variants)
    return {
        "method": f"{reps} interleaved reps, fresh DB each, WAL + synchronous=FULL, "
        f"{rows} rows (per-row and single-task variants: {rows // 4})",
        "rows_per_s": rows_per_s,
        "rep_rows_per_s": results,
        "ratios": {
            "concurrent writer / raw per-row commit": rows_per_s[names[0]] / rows_per_s[names[2]],
            "single-task writer / raw per-row commit": rows_per_s[names[1]] / rows_per_s[names[2]],
            "concurrent writer / raw batched": rows_per_s[names[0]] / rows_per_s[names[3]],
        },
    }


def build_chain(path: Path, rows: int, chunk: int = 20_000) -> float:
    """A valid chain of ``rows`` rows, made by the writer's own chain_rows()."""
    from mopsgate.governance.audit_chain import AuditHead, chain_rows, event_values
    from mopsgate.storage.sqlite.audit import INSERT_SQL

    values = event_values(sample_event())
    conn = sqlite3.connect(path, isolation_level=None)
    t0 = time.perf_counter()
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")  # building the fixture, not measuring it
        _create_schema(conn)
        head = AuditHead()
        for start in range(0, rows, chunk):
            batch = chain_rows(head, [values] * min(chunk, rows - start))
            conn.execute("BEGIN")
            conn.executemany(INSERT_SQL, batch)
            conn.execute("COMMIT")
            head = AuditHead(batch[-1][0], batch[-1][-1])
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return time.perf_counter() - t0


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_cli_verify(home: Path) -> tuple[float, str, int, float]:
    """Wall seconds, output, exit code and CPU seconds (the CLI and its forked checkers)."""
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(
        [MOPSGATE, "audit", "verify", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=300,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    wall = time.perf_counter() - t0
    return wall, (proc.stdout + proc.stderr).strip(), proc.returncode, _children_cpu() - cpu0


def verify_million(tmp: Path, rows: int, reps: int) -> dict[str, Any]:
    home = tmp / "verify-home"
    home.mkdir(parents=True, exist_ok=True)
    db = home / "mopsgate.db"
    build_s = build_chain(db, rows)
    times, cpu, last, codes = [], [], "", []
    load = os.getloadavg()[0]
    for _ in range(reps):
        elapsed, last, code, cpu_s = time_cli_verify(home)
        times.append(elapsed)
        cpu.append(cpu_s)
        codes.append(code)
    size_mb = db.stat().st_size / 1e6
    db.unlink()
    median = statistics.median(times)
    return {
        "rows": rows,
        "db_mb": size_mb,
        "build_s": build_s,
        "verify_s": median,
        "rep_verify_s": times,
        "cpu_s": statistics.median(cpu),
        "cores": os.cpu_count(),
        "load": [load, os.getloadavg()[0]],
        "ok": all(c == 0 for c in codes) and last.startswith("OK"),
        "output": last,
        "target": f"<= {VERIFY_TARGET_S} s",
        "met": median <= VERIFY_TARGET_S and rows >= 1_000_000,
    }


async def run(
    tmp: Path, *, reps: int, appenders: int, rows: int, verify_rows: int
) -> dict[str, Any]:
    out = {"writer": await writer_throughput(tmp, reps, appenders, rows)}
    print("  audit writer done", flush=True)
    out["verify"] = await asyncio.to_thread(verify_million, tmp, verify_rows, 2)
    print(f"  audit verify of {verify_rows} rows: {out['verify']['verify_s']:.1f} s", flush=True)
    return out

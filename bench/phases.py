"""Where one sequential governed call's time goes: phase timings (not a section of ``make bench``).

``python -m bench.phases [calls] [vendor_ms] [--detail] [--turns]`` runs ``calls`` sequential
``get_person`` calls (HubSpot emulator) governed, bare and a raw durable commit, interleaved,
with ``perf_counter_ns`` marks placed by wrapping the pipeline's steps, the calls-per-minute
admission, the audit writer's hand-off, the connection thread's transaction and
``commit_rows`` (``--detail``: each piece of it, through a copy of its body). It prints the p50
of every step between two consecutive marks (``--turns``: and the most common sequence of marks
of a governed call, each with the number of turns of the event loop since the mark before it).
``vendor_ms`` makes every emulator answer after
that long (the §1b situation). Prefix ``TMPDIR=/dev/shm`` for the audit log on tmpfs.
The wrappers add about a microsecond per mark; compare trees with the same harness, in the same
minutes (bench/results/issue15-s24-latency.md).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MARKS: list[tuple[str, int]] = []
WARMUP = 30


def mark(label: str) -> None:
    MARKS.append((label, time.perf_counter_ns()))


def _wrap_async(cls: Any, name: str, before: str, after: str) -> None:
    raw = cls.__dict__[name]
    orig = getattr(cls, name)

    @functools.wraps(orig)
    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        mark(before)
        try:
            return await orig(*args, **kwargs)
        finally:
            mark(after)

    setattr(cls, name, staticmethod(wrapped) if isinstance(raw, staticmethod) else wrapped)


def _wrap(owner: Any, name: str, before: str, after: str | None = None) -> None:
    orig = getattr(owner, name)

    @functools.wraps(orig)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        mark(before)
        try:
            return orig(*args, **kwargs)
        finally:
            if after:
                mark(after)

    setattr(owner, name, wrapped)


def _detailed_commit_rows(audit: Any) -> Callable[..., Any]:
    """``commit_rows``' body with a mark after each piece (keep in step with the original)."""

    def commit_rows(conn: Any, batch: Any, calls: Any = (), pruned: Any = None) -> Any:
        head = audit.read_head(conn)
        mark("cr.head")
        rows = audit.chain_rows(head, batch)
        mark("cr.chain")
        conn.executemany(audit.INSERT_SQL, rows)
        mark("cr.insert")
        conn.executemany(audit.RECORDS_SQL, audit.indexed_refs(rows))
        mark("cr.refs")
        audit.record_calls(conn, calls, time.time(), pruned)
        mark("cr.calls")
        if notices := audit.audit_notices(rows):
            audit.enqueue(conn, notices, datetime.now(UTC))
        mark("cr.notices")
        return rows

    return commit_rows


def count_turns() -> None:
    import asyncio.base_events

    loop_class: Any = asyncio.base_events.BaseEventLoop
    run_once = loop_class._run_once

    def counted(self: Any) -> None:
        mark("turn")
        run_once(self)

    loop_class._run_once = counted


def instrument(detail: bool) -> None:
    import mopsgate.storage.group_commit as group_commit
    import mopsgate.storage.sqlite.audit as audit
    import mopsgate.storage.sqlite.db as db
    from mopsgate.server.call_rate import CallRate
    from mopsgate.server.pipeline import Pipeline

    _wrap_async(Pipeline, "call", "pipe>", "pipe<")
    _wrap_async(Pipeline, "_call_admitted", "admitted>", "admitted<")
    _wrap_async(Pipeline, "_run", "handler>", "handler<")
    _wrap_async(Pipeline, "_write", "write>", "write<")
    _wrap_async(CallRate, "admit", "admit>", "admit<")
    _wrap(group_commit, "event_values", "values>", "values<")
    _wrap(group_commit.GroupCommitLog, "_start_batch", "start_batch")
    _wrap(group_commit.GroupCommitLog, "_settle", "settle")
    _wrap(db.SqliteDb, "submit", "submit>", "submit<")
    in_transaction = db._in_transaction

    def transaction(conn: Any, begin: str, unit: Any) -> Any:
        side = "w" if begin == "BEGIN IMMEDIATE" else "r"
        mark(f"{side}thread>")
        try:
            return in_transaction(conn, begin, unit)
        finally:
            mark(f"{side}thread<")

    db._in_transaction = transaction
    if detail:
        audit.commit_rows = _detailed_commit_rows(audit)
    _wrap(audit, "commit_rows", "commit_rows>", "commit_rows<")


async def run(calls: int, vendor_ms: float) -> None:
    from mcp import Client

    from bench import overhead
    from bench.bare import build_bare_server, twin_context
    from bench.common import (
        BENCH_PRINCIPALS,
        fast_client_options,
        fast_emulators,
        write_bench_manifest,
    )
    from mopsgate.server.app import build_runtime, build_server
    from mopsgate.server.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="phases-"))
    try:
        manifest = write_bench_manifest(tmp)
        emulators = fast_emulators()
        for emulator in emulators.values():
            emulator.core.faults.slow_seconds = vendor_ms / 1000
        runtime = build_runtime(
            Settings(manifest, tmp / "home", sandbox="memory"),
            env={},
            emulators=emulators,
            client_options=fast_client_options(),
        )
        principal = BENCH_PRINCIPALS[0]
        gov = build_server(runtime, transport="memory", resolve_principal=lambda _: principal)
        bare = build_bare_server(runtime.connectors, twin_context(manifest, runtime.connectors))
        refs = overhead.person_refs("hubspot")
        floor = overhead.DurableCommit(tmp / "floor" / "commit.db")
        totals: dict[str, list[float]] = {"governed": [], "bare": [], "raw commit": []}
        steps: dict[str, list[float]] = {}
        sequences: Counter[tuple[tuple[str, int], ...]] = Counter()
        async with Client(gov) as governed, Client(bare) as bare_client:
            for i in range(calls + WARMUP):
                for side, client in (("governed", governed), ("bare", bare_client)):
                    MARKS.clear()
                    mark("start")
                    await client.call_tool("get_person", {"ref": refs[i % len(refs)]})
                    mark("end")
                    if i < WARMUP:
                        continue
                    totals[side].append((MARKS[-1][1] - MARKS[0][1]) / 1e3)
                    if side == "governed":
                        sequences[_turns_between(MARKS)] += 1
                        marks = [m for m in MARKS if m[0] != "turn"]
                        for (a, ta), (b, tb) in itertools.pairwise(marks):
                            steps.setdefault(f"{a} -> {b}", []).append((tb - ta) / 1e3)
                t0 = time.perf_counter_ns()
                await floor.call_tool("commit", {})
                if i >= WARMUP:
                    totals["raw commit"].append((time.perf_counter_ns() - t0) / 1e3)
        floor.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for side, values in totals.items():
        print(f"{side:32s} p50 {statistics.median(values):9.1f} us")
    for step, values in steps.items():
        if len(values) * 2 >= calls:  # the usual order of marks, not a rare interleaving
            print(f"{step:32s} p50 {statistics.median(values):9.1f} us  n={len(values)}")
    sequence, seen = sequences.most_common(1)[0]
    if any(turns for _, turns in sequence):
        print(f"loop turns before each mark ({seen} of {calls} calls):")
        print(" ".join(f"{label}[{turns}]" for label, turns in sequence))


def _turns_between(marks: list[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    out, turns = [], 0
    for label, _ in marks:
        if label == "turn":
            turns += 1
        else:
            out.append((label, turns))
            turns = 0
    return tuple(out)


def main(argv: list[str]) -> None:
    args = [a for a in argv if not a.startswith("--")]
    instrument(detail="--detail" in argv)
    if "--turns" in argv:
        count_turns()
    calls = int(args[0]) if args else 300
    vendor_ms = float(args[1]) if len(args) > 1 else 0.0
    asyncio.run(run(calls, vendor_ms))


if __name__ == "__main__":
    main(sys.argv[1:])

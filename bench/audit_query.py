"""§3b ``mopsgate audit query --record``: "every call that saw or touched this person", on a
log of 1,000,000 rows.

The log is built with the writer's own chaining and reference index (``commit_rows``), shaped
like a busy assistant's: reads returning one person (get_person) or a page of ten (searches),
proposals targeting a few people, and each change's review, apply-intent and apply rows, over a
population of 100,000 people. The query runs through the real reader port (a fresh read-only
connection per query, as the CLI does) for people picked at random; the baseline, in the same
run on the same file, answers the same question without the indexes: a scan of every row's
stored references (``NOT INDEXED``). Both must return the same rows. The CLI is timed too, as
a subprocess (interpreter start-up included).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.common import MOPSGATE, child_env

QUERY_TARGET_S = 0.3
PEOPLE = 100_000
SEARCH_PAGE = 10


def _person(i: int) -> str:
    return f"hubspot:contact:{i}"


def build_log(
    path: Path, rows: int, people: int = PEOPLE, seed: int = 7, chunk: int = 20_000
) -> float:
    """A chained log of ``rows`` rows with data-access records, through commit_rows."""
    from bench.audit import _create_schema, sample_event
    from mopsgate.governance.audit_chain import COLUMNS, event_values
    from mopsgate.storage.sqlite.audit import commit_rows

    rng = random.Random(seed)
    template = list(event_values(sample_event()))
    at = {name: i - 2 for i, name in enumerate(COLUMNS)}  # event_values has no seq, ts
    conn = sqlite3.connect(path, isolation_level=None)
    t0 = time.perf_counter()
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=OFF")  # building the fixture, not measuring it
        _create_schema(conn)
        made, changes = 0, 0
        while made < rows:
            batch: list[tuple[Any, ...]] = []
            while len(batch) < min(chunk, rows - made):
                values = list(template)
                kind = rng.random()
                if kind < 0.05:  # a proposal, then its review, apply intent and apply
                    changes += 1
                    change = f"chg_{changes:012x}"
                    targets = [_person(rng.randrange(people)) for _ in range(rng.randint(1, 5))]
                    for tool, refs in (
                        ("propose_update_person", targets),
                        ("review approve", []),
                        ("apply_change", []),
                        ("apply_change", targets),
                    ):
                        row = list(values)
                        row[at["tool"]] = tool
                        row[at["change_id"]] = change
                        row[at["records"]] = _json(refs)
                        batch.append(tuple(row))
                    continue
                page = 1 if kind < 0.6 else SEARCH_PAGE
                refs = [_person(rng.randrange(people)) for _ in range(page)]
                values[at["tool"]] = "get_person" if page == 1 else "search_people"
                values[at["records"]] = _json(refs)
                batch.append(tuple(values))
            batch = batch[: rows - made]
            conn.execute("BEGIN")
            commit_rows(conn, batch)
            conn.execute("COMMIT")
            made += len(batch)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return time.perf_counter() - t0


def _json(refs: list[str]) -> str | None:
    import json

    return json.dumps(sorted(set(refs)), separators=(",", ":")) if refs else None


def scan_seqs(path: Path, ref: str) -> list[int]:
    """The baseline: the same rows, found without an index (every stored reference scanned)."""
    like = f'%"{ref}"%'
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        sql = (
            "SELECT seq FROM audit_log NOT INDEXED WHERE records LIKE ? OR change_id IN "
            "(SELECT change_id FROM audit_log NOT INDEXED WHERE records LIKE ? "
            "AND change_id IS NOT NULL) ORDER BY seq"
        )
        return [int(r[0]) for r in conn.execute(sql, (like, like))]
    finally:
        conn.close()


async def query_seqs(path: Path, ref: str) -> list[int]:
    from mopsgate.governance.audit_query import AuditQuery
    from mopsgate.storage.sqlite.audit_read import SqliteAuditReader

    reader = SqliteAuditReader(path)
    return [row.seq async for row in reader.query(AuditQuery(record=ref))]


def time_cli(home: Path, ref: str) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [MOPSGATE, "audit", "query", "--record", ref, "--format", "jsonl", "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=120,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return time.perf_counter() - t0, proc.returncode, len(proc.stdout.splitlines())


def run(
    tmp: Path, rows: int, queries: int, baseline_queries: int, people: int = PEOPLE
) -> dict[str, Any]:
    home = tmp / "query-home"
    home.mkdir(parents=True, exist_ok=True)
    db = home / "mopsgate.db"
    build_s = build_log(db, rows, people)
    rng = random.Random(11)
    picked = [_person(rng.randrange(people)) for _ in range(queries)]
    indexed, scanned, found, agree = [], [], [], True
    for n, ref in enumerate(picked):
        t0 = time.perf_counter()
        seqs = asyncio.run(query_seqs(db, ref))
        indexed.append(time.perf_counter() - t0)
        found.append(len(seqs))
        if n < baseline_queries:  # interleaved with the indexed queries, same people
            t0 = time.perf_counter()
            baseline = scan_seqs(db, ref)
            scanned.append(time.perf_counter() - t0)
            agree = agree and baseline == seqs
    cli = [time_cli(home, ref) for ref in picked[:3]]
    size_mb = db.stat().st_size / 1e6
    db.unlink()
    p50 = statistics.median(indexed)
    base = statistics.median(scanned)
    return {
        "rows": rows,
        "db_mb": size_mb,
        "build_s": build_s,
        "method": f"{queries} --record queries for random people of {people:,} (each through "
        f"the reader port, a fresh read-only connection per query); baseline: the same "
        f"answer by scanning every row's references, {baseline_queries} of them interleaved",
        "query_p50_s": p50,
        "query_max_s": max(indexed),
        "rows_found_median": statistics.median(found),
        "scan_p50_s": base,
        "ratio_scan_over_indexed": base / p50 if p50 else None,
        "same_rows": agree,
        "cli_s": [c[0] for c in cli],
        "cli_ok": all(c[1] == 0 and c[2] > 0 for c in cli),
        "target": f"< {QUERY_TARGET_S} s",
        "met": p50 < QUERY_TARGET_S and max(indexed) < QUERY_TARGET_S and agree,
    }

"""Reading the audit log: verify the chain, tail it, export it.

Synchronous ``sqlite3`` on a read-only connection: auditors run these against a copy or beside a
live server, and nothing here may ever write. Verification streams rows as plain tuples (no
pydantic) and, on large logs, splits the seq range across processes — a million rows must check
in seconds, or nobody will run it.

What verification can and cannot prove: it catches any edited, deleted, inserted or reordered
row *inside* the log. It cannot see rows cut from the end, or a chain an attacker rebuilt from
scratch; those need a checkpoint (the head hash) kept somewhere the server cannot write.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from mopsgate.governance.audit import COLUMNS, GENESIS_HASH, TABLE, compute_hash

_SELECT = f"SELECT {', '.join(COLUMNS)} FROM {TABLE}"  # noqa: S608 - constants only
_BOUNDS = f"SELECT MIN(seq), MAX(seq), COUNT(*) FROM {TABLE}"  # noqa: S608 - constants only
PARALLEL_MIN_ROWS = 200_000


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows: int
    first_bad_seq: int | None
    problem: str
    head_hash: str = GENESIS_HASH


@dataclass(frozen=True)
class _Segment:
    rows: int
    first: tuple[int, str] | None  # (seq, prev_hash) of the first row
    last: tuple[int, str] | None  # (seq, row_hash) of the last row checked
    bad_seq: int | None = None
    problem: str = ""


def connect_readonly(db_path: str | Path) -> sqlite3.Connection:
    """Open without any chance of writing; a missing file is an error, not a new empty log."""
    path = Path(db_path)
    if not path.is_file():
        raise FileNotFoundError(f"no audit log at {path}")
    return sqlite3.connect(f"file:{quote(str(path.resolve()))}?mode=ro", uri=True)


def _has_table(conn: sqlite3.Connection) -> bool:
    sql = "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?"
    return conn.execute(sql, (TABLE,)).fetchone() is not None


def _scan(db_path: str, lo: int, hi: int) -> _Segment:
    """Check every row in [lo, hi]: contiguous seq, each prev_hash linking to the row before it,
    each row_hash matching the content. Links across segment edges are checked by the caller."""
    conn = connect_readonly(db_path)
    rows, first, prev_seq, prev_hash = 0, None, 0, ""
    try:
        cursor = conn.execute(f"{_SELECT} WHERE seq BETWEEN ? AND ? ORDER BY seq", (lo, hi))
        cursor.arraysize = 2000
        for row in cursor:
            seq, prev = row[0], row[-2]
            if first is None:
                first = (seq, prev)
            elif seq != prev_seq + 1:
                return _Segment(rows, first, (prev_seq, prev_hash), *_gap(prev_seq, seq))
            elif prev != prev_hash:
                problem = f"prev_hash does not match the hash of row seq={prev_seq}"
                return _Segment(rows, first, (prev_seq, prev_hash), seq, problem)
            if compute_hash(prev, row[:-2]) != row[-1]:
                problem = "row content does not match its hash (the row was edited)"
                return _Segment(rows, first, (prev_seq, prev_hash), seq, problem)
            rows, prev_seq, prev_hash = rows + 1, seq, row[-1]
    except (sqlite3.Error, TypeError, ValueError) as exc:
        problem = f"row after seq={prev_seq} cannot be read ({exc})"
        return _Segment(rows, first, (prev_seq, prev_hash), prev_seq + 1, problem)
    finally:
        conn.close()
    return _Segment(rows, first, (prev_seq, prev_hash) if first else None)


def _gap(prev_seq: int, seq: int) -> tuple[int, str]:
    if seq <= prev_seq:
        return seq, f"seq={seq} appears out of order after seq={prev_seq} (duplicate or reordered)"
    missing = f"seq={prev_seq + 1}" if seq == prev_seq + 2 else f"seq={prev_seq + 1}..{seq - 1}"
    return prev_seq + 1, f"row {missing} is missing (deleted); the next row is seq={seq}"


def _ranges(lo: int, hi: int, parts: int) -> list[tuple[int, int]]:
    step = max(1, (hi - lo + parts) // parts)
    return [(start, min(hi, start + step - 1)) for start in range(lo, hi + 1, step)]


def _scan_all(db_path: str, lo: int, hi: int, count: int, workers: int | None) -> list[_Segment]:
    workers = workers or os.cpu_count() or 1
    # fork is only safe with no other threads alive; otherwise check in this process.
    if workers < 2 or count < PARALLEL_MIN_ROWS or threading.active_count() > 1:
        return [_scan(db_path, lo, hi)]
    ranges = _ranges(lo, hi, workers)
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(_scan, db_path, a, b) for a, b in ranges]
        return [future.result() for future in futures]


def verify(db_path: str | Path, *, workers: int | None = None) -> VerifyResult:
    """Check the whole chain; report the first bad row. Raises FileNotFoundError if absent."""
    conn = connect_readonly(db_path)
    try:
        if not _has_table(conn):
            return VerifyResult(True, 0, None, "no audit rows yet")
        lo, hi, count = conn.execute(_BOUNDS).fetchone()
    finally:
        conn.close()
    if not count:
        return VerifyResult(True, 0, None, "no audit rows yet")
    segments = _scan_all(str(db_path), int(lo), int(hi), int(count), workers)
    return _stitch(segments)


def _stitch(segments: list[_Segment]) -> VerifyResult:
    """Join per-range results in seq order; the earliest fault anywhere wins."""
    total, last = 0, (0, GENESIS_HASH)
    for seg in segments:
        if seg.first is not None:
            seq, prev = seg.first
            if seq != last[0] + 1:
                bad, problem = _gap(last[0], seq)
                return VerifyResult(False, total, bad, problem)
            if prev != last[1]:
                what = "the genesis hash" if seq == 1 else f"the hash of row seq={last[0]}"
                return VerifyResult(False, total, seq, f"prev_hash does not match {what}")
        total += seg.rows
        if seg.bad_seq is not None:
            return VerifyResult(False, total, seg.bad_seq, seg.problem)
        if seg.last is not None:
            last = seg.last
    return VerifyResult(True, total, None, "chain intact", head_hash=last[1])


def _as_dict(row: tuple[Any, ...]) -> dict[str, Any]:
    record = dict(zip(COLUMNS, row, strict=True))
    # If it does not decode it is shown as stored; verify() says whether it was tampered with.
    with contextlib.suppress(TypeError, ValueError):
        record["arguments"] = json.loads(record["arguments"])
    return record


def iter_rows(db_path: str | Path, after_seq: int = 0) -> Iterator[dict[str, Any]]:
    """Rows with seq > ``after_seq`` in order, as dicts with ``arguments`` decoded."""
    conn = connect_readonly(db_path)
    try:
        if not _has_table(conn):
            return
        cursor = conn.execute(f"{_SELECT} WHERE seq > ? ORDER BY seq", (after_seq,))
        for row in cursor:
            yield _as_dict(row)
    finally:
        conn.close()


def tail(db_path: str | Path, n: int = 20) -> list[dict[str, Any]]:
    """The last ``n`` rows, oldest first."""
    conn = connect_readonly(db_path)
    try:
        if not _has_table(conn):
            return []
        sql = f"{_SELECT} ORDER BY seq DESC LIMIT ?"
        rows = conn.execute(sql, (max(0, n),)).fetchall()
    finally:
        conn.close()
    return [_as_dict(row) for row in reversed(rows)]


def export_jsonl(db_path: str | Path, out: TextIO) -> int:
    """One JSON object per line; JSON escaping keeps CRM text with newlines or ANSI codes from
    forging extra lines in the export."""
    count = 0
    for record in iter_rows(db_path):
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count

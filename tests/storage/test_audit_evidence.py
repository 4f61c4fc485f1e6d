"""The use case and the data-access record on audit rows: stored, indexed, hashed with the
row, and compatible with every row written before they existed."""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest

from mopsgate.governance.audit_chain import (
    BASE_CONTENT_COLUMNS,
    GENESIS_HASH,
    Cell,
    canonical_json,
    compute_hash,
    format_ts,
    utc_now,
)
from mopsgate.storage import audit_reader, open_storage
from tests.storage.events import allowed
from tests.storage.test_schema import at_version, cfg, execute, mopsgate, query

REFS = ("marketo:lead:1", "marketo:lead:2")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


def old_row(seq: int, prev: str) -> tuple[object, ...]:
    """A row exactly as mopsgate wrote it before schema 6: 20 content columns hashed."""
    content = (
        seq, format_ts(utc_now()), "tool_call", "alice", None, None, "stdio", "get_person",
        "marketo", "{}", "allowed", "read-all", None, "ok", None, "1 record", 1, 1.0, None,
        "d" * 64,
    )  # fmt: skip
    assert len(content) == len(BASE_CONTENT_COLUMNS)
    row_hash = hashlib.sha256((prev + canonical_json(content)).encode()).hexdigest()
    return (*content, prev, row_hash)


def insert_old(home: Path, row: tuple[object, ...]) -> None:
    cols = ", ".join((*BASE_CONTENT_COLUMNS, "prev_hash", "row_hash"))
    values = ", ".join("NULL" if v is None else repr(v) for v in row)
    execute(home, f"INSERT INTO audit_log ({cols}) VALUES ({values})")  # noqa: S608


async def test_old_rows_keep_verifying_and_new_fields_are_hashed(home: Path) -> None:
    at_version(home, 5)
    first = old_row(1, GENESIS_HASH)
    insert_old(home, first)
    second = old_row(2, str(first[-1]))
    insert_old(home, second)
    # A pre-0006 copy (evidence on read-only media) verifies as it stands.
    assert (await audit_reader(cfg(home)).verify()).ok
    upgrade = await asyncio.to_thread(mopsgate, "db", "upgrade", "--home", str(home))
    assert upgrade.exit_code == 0, upgrade.output

    storage = await open_storage(cfg(home))
    try:
        await storage.audit.append(allowed(use_case="campaign-ops", records=REFS))
        await storage.audit.append(allowed(use_case="campaign-ops"))
        result = await storage.audit_reader.verify()
        rows = await storage.audit_reader.tail(4)
    finally:
        await storage.close()
    assert (result.ok, result.rows) == (True, 4)
    assert [(r.use_case, r.refs) for r in rows] == [
        (None, []),
        (None, []),
        ("campaign-ops", list(REFS)),
        ("campaign-ops", []),
    ]
    assert rows[2].as_dict()["records"] == list(REFS)
    assert query(home, "SELECT ref, seq FROM audit_records ORDER BY ref") == [
        ("marketo:lead:1", 3),
        ("marketo:lead:2", 3),
    ]
    # The new columns are part of each row's hash, old rows included.
    for edit, bad in (
        ("UPDATE audit_log SET use_case = 'reporting' WHERE seq = 1", 1),
        ("UPDATE audit_log SET use_case = NULL WHERE seq = 4", 4),
        ("UPDATE audit_log SET records = '[\"marketo:lead:1\"]' WHERE seq = 3", 3),
    ):
        snapshot = query(home, "SELECT seq, use_case, records FROM audit_log ORDER BY seq")
        execute(home, edit)
        verdict = await audit_reader(cfg(home)).verify()
        assert (verdict.ok, verdict.first_bad_seq) == (False, bad), edit
        for seq, use_case, records in snapshot:
            execute(
                home,
                f"UPDATE audit_log SET use_case = {_sql(use_case)}, "  # noqa: S608
                f"records = {_sql(records)} WHERE seq = {seq}",
            )
        assert (await audit_reader(cfg(home)).verify()).ok


def _sql(value: object) -> str:
    return "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"


def test_hash_ignores_only_trailing_unset_extensions() -> None:
    base: tuple[Cell, ...] = (
        1,
        "2026-01-01T00:00:00.000000+00:00",
        *["x"] * (len(BASE_CONTENT_COLUMNS) - 2),
    )
    assert compute_hash(GENESIS_HASH, (*base, None, None)) == compute_hash(GENESIS_HASH, base)
    with_case = compute_hash(GENESIS_HASH, (*base, "ops", None))
    assert with_case == compute_hash(GENESIS_HASH, (*base, "ops"))
    assert with_case != compute_hash(GENESIS_HASH, base)
    assert compute_hash(GENESIS_HASH, (*base, None, json.dumps(["a"]))) != compute_hash(
        GENESIS_HASH, (*base, "ops", json.dumps(["a"]))
    )

"""The audit log as an auditor and an operator experience it, on every backend: every call is
there, in order, chained, unreadable for secrets, and any edit made behind mopsgate's back is
caught and named."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from mopsgate.governance.audit_chain import COLUMNS, GENESIS_HASH
from mopsgate.storage import Storage
from tests.storage.backends import Backend
from tests.storage.events import allowed, denied, errored


async def fill(storage: Storage, n: int) -> None:
    for i in range(n):
        await storage.audit.append(allowed(result_summary=f"call {i}"))


async def test_allowed_denied_and_error_calls_each_leave_one_full_row(storage: Storage) -> None:
    records = [
        await storage.audit.append(e) for e in (allowed(), denied(), errored(change_id="chg_1"))
    ]

    assert [r.seq for r in records] == [1, 2, 3]
    stored = [row.as_dict() for row in await storage.audit_reader.tail(10)]
    assert [r["decision"] for r in stored] == ["allowed", "denied", "allowed"]
    assert [r["outcome"] for r in stored] == ["ok", "denied", "error"]
    first = stored[0]
    assert first["principal"] == "alice" and first["client_name"] == "claude-desktop"
    assert first["transport"] == "stdio" and first["connector"] == "marketo"
    assert first["rule_id"] == "read-leads" and first["manifest_digest"] == "d" * 64
    assert first["arguments"] == {"filter_type": "id", "values": [1, 2, 3]}
    assert first["duration_ms"] == 12.5 and first["upstream_calls"] == 1
    assert first["prev_hash"] == GENESIS_HASH
    assert stored[1]["error_code"] == "not_permitted"
    assert stored[2]["change_id"] == "chg_1"
    assert stored[1]["prev_hash"] == stored[0]["row_hash"] == records[0].row_hash
    ts = datetime.fromisoformat(records[0].ts)
    assert ts.tzinfo is not None and ts.utcoffset() == UTC.utcoffset(None)
    assert len(records[0].ts.split(".")[1].split("+")[0]) == 6  # microseconds
    assert (await storage.audit_reader.verify()).ok


async def test_an_empty_log_verifies_and_has_the_genesis_head(storage: Storage) -> None:
    reader = storage.audit_reader
    result = await reader.verify()
    assert (result.ok, result.rows, result.problem) == (True, 0, "no audit rows yet")
    head = await reader.head()
    assert (head.seq, head.row_hash) == (0, GENESIS_HASH)
    assert await reader.tail(5) == []
    assert [row async for row in reader.rows()] == []


async def test_500_concurrent_appends_are_contiguous_and_chained(storage: Storage) -> None:
    records = await asyncio.gather(
        *(storage.audit.append(allowed(result_summary=str(i))) for i in range(500))
    )
    assert sorted(r.seq for r in records) == list(range(1, 501))
    result = await storage.audit_reader.verify()
    assert result.ok and result.rows == 500
    head = await storage.audit_reader.head()
    assert head.seq == 500 and head.row_hash == result.head_hash
    assert head.row_hash == max(records, key=lambda r: r.seq).row_hash


async def test_rows_after_a_seq_come_in_order(storage: Storage) -> None:
    await fill(storage, 12)
    after = [row.seq async for row in storage.audit_reader.rows(after_seq=7)]
    assert after == [8, 9, 10, 11, 12]
    summaries = [row.result_summary async for row in storage.audit_reader.rows()]
    assert summaries == [f"call {i}" for i in range(12)]


@pytest.mark.parametrize(
    ("statements", "bad_seq", "words"),
    [
        (["UPDATE audit_log SET principal = 'mallory' WHERE seq = 5"], 5, "edited"),
        (["UPDATE audit_log SET duration_ms = 0.1 WHERE seq = 7"], 7, "edited"),
        (["DELETE FROM audit_log WHERE seq = 5"], 5, "missing"),
        (["DELETE FROM audit_log WHERE seq = 1"], 1, "missing"),
        (  # a row moved: seq 3 and 4 swapped
            [
                "UPDATE audit_log SET seq = -1 WHERE seq = 3",
                "UPDATE audit_log SET seq = 3 WHERE seq = 4",
                "UPDATE audit_log SET seq = 4 WHERE seq = -1",
            ],
            3,
            "",
        ),
    ],
)
async def test_verify_names_the_first_bad_row(
    storage: Storage, backend: Backend, statements: list[str], bad_seq: int, words: str
) -> None:
    await fill(storage, 10)
    assert (await storage.audit_reader.verify()).ok
    backend.execute(*statements)
    result = await storage.audit_reader.verify()
    assert not result.ok
    assert result.first_bad_seq == bad_seq
    assert words in result.problem


async def test_verify_catches_an_inserted_row(storage: Storage, backend: Backend) -> None:
    """A forged row slipped in after seq 5, linked to it, with the later rows moved up."""
    await fill(storage, 10)
    forged = ", ".join(
        {"seq": "6", "principal": "'mallory'", "row_hash": "'" + "f" * 64 + "'"}.get(c, c)
        for c in COLUMNS
    )
    backend.execute(
        "UPDATE audit_log SET seq = seq + 1000 WHERE seq > 5",
        "UPDATE audit_log SET seq = seq - 999 WHERE seq > 1000",
        f"INSERT INTO audit_log ({', '.join(COLUMNS)}) SELECT {forged} "  # noqa: S608
        "FROM audit_log WHERE seq = 5",
    )
    result = await storage.audit_reader.verify()
    assert (result.ok, result.first_bad_seq) == (False, 6)


async def test_tail_truncation_is_only_visible_against_a_checkpoint(
    storage: Storage, backend: Backend
) -> None:
    """Documented limit: cutting the last rows leaves a valid chain; the head hash (the
    checkpoint an operator exports) is what changes."""
    await fill(storage, 10)
    checkpoint = (await storage.audit_reader.head()).row_hash
    assert checkpoint == (await storage.audit_reader.verify()).head_hash
    backend.execute("DELETE FROM audit_log WHERE seq > 8")
    result = await storage.audit_reader.verify()
    assert result.ok and result.rows == 8
    assert result.head_hash != checkpoint


async def test_pii_and_secret_canaries_are_never_stored(storage: Storage, backend: Backend) -> None:
    arguments = {
        "email": "canary.person@example.org",
        "note": "call +1 415 555 0199 or canary.person@example.org",
        "nested": [{"phone": "4155550199", "firstName": "Canaryfirst"}],
        "access_token": "tok_CANARYSECRET_0001",
        "confirmation_token": "ct.CANARYCONFIRM.sig",
        "headers": {"Authorization": "Bearer CANARYSECRET0123456789"},
    }
    await storage.audit.append(
        allowed(arguments=arguments, reason="upstream said canary.person@example.org")
    )
    stored = repr(backend.query("SELECT * FROM audit_log"))
    for canary in ("canary.person", "415 555 0199", "4155550199", "CANARYSECRET", "Canaryfirst"):
        assert canary not in stored, canary
    assert "CANARYCONFIRM" not in stored
    (row,) = await storage.audit_reader.tail(1)
    args: Any = row.as_dict()["arguments"]
    assert args["email"] == "c***@example.org"
    assert args["access_token"].startswith("sha256:")
    assert args["nested"][0] == {"phone": "***-0199", "firstName": "C***"}


async def test_hostile_text_round_trips_as_data(storage: Storage) -> None:
    nasty = 'line1\nline2\x1b[31mred\x1b[0m \'; DROP TABLE audit_log; -- {"seq": 0}'
    await storage.audit.append(allowed(arguments={"description": nasty}, result_summary=nasty))
    await storage.audit.append(allowed(arguments={"weird": "\ud800 lone surrogate"}))
    assert (await storage.audit_reader.verify()).ok
    first: Any = (await storage.audit_reader.tail(5))[0].as_dict()
    assert first["arguments"]["description"] == nasty
    exported = [json.dumps(row.as_dict()) async for row in storage.audit_reader.rows()]
    assert len(exported) == 2
    assert json.loads(exported[0])["result_summary"] == nasty

"""Calls per minute hold across connections and processes.

Found by an attack run: every stdio client is its own server process, and the count lived in
process memory, so opening a second connection gave the same principal a fresh budget.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
from mcp import Client

from mopsgate.server.settings import Settings
from mopsgate.storage.sqlite.rates import count_calls, record_calls
from mopsgate.storage.sqlite.schema import prepare
from tests.conftest import audit_rows, text_of
from tests.support.changes import stored_changes
from tests.support.stdio_serve import forked_stdio, mopsgate_env


def _limit(settings: Settings, per_minute: int) -> None:
    text = settings.manifest_path.read_text()
    limited = text.replace("calls_per_minute = 120", f"calls_per_minute = {per_minute}", 1)
    assert limited != text
    settings.manifest_path.write_text(limited)


def _stdio(settings: Settings) -> Client:
    """A stdio server process of its own (forked: tests/support/stdio_serve.py), as each stdio
    client starts one."""
    return Client(forked_stdio(mopsgate_env(settings, MOPSGATE_PRINCIPAL="assistant")))


async def test_a_second_stdio_process_does_not_get_a_fresh_budget(settings: Settings):
    _limit(settings, 3)
    async with _stdio(settings) as first, _stdio(settings) as second:
        spent = [await first.call_tool("whoami", {}) for _ in range(2)]
        spent.append(await second.call_tool("whoami", {}))
        refused_write = await second.call_tool(
            "propose_update_person",
            {
                "refs": ["hubspot:contact:1001"],
                "fields": {"jobtitle": "Chief Everything Officer"},
                "reason": "second connection, fresh budget?",
            },
        )
        refused_first = await first.call_tool("whoami", {})
    assert [r.is_error for r in spent] == [False, False, False]
    for refused in (refused_write, refused_first):
        assert refused.is_error and text_of(refused).startswith("[rate_limited]")
        assert "3 calls in the last minute" in text_of(refused)
    assert stored_changes(settings) == []  # the refused proposal stored nothing
    calls = [r for r in audit_rows(settings) if r["kind"] == "tool_call"]
    assert [(r["tool"], r["decision"], r["rule_id"]) for r in calls[-2:]] == [
        ("propose_update_person", "denied", "rate-limit"),
        ("whoami", "denied", "rate-limit"),
    ]
    assert {r["transport"] for r in calls} == {"stdio"}


async def test_concurrent_calls_in_one_process_cannot_slip_past(connect, settings: Settings):
    """Calls admitted but not yet audited count too, so a burst cannot overshoot.

    The count may err high, never low (``server/call_rate.py``): a call whose row commits at the
    instant another call reads the window can be counted twice. On a quiet machine this burst
    gets exactly 3 through; under load it has been seen to get 2. What must hold either way is
    that no more than the limit get through and every refusal is audited."""
    _limit(settings, 3)
    results: list[bool] = []
    async with connect("assistant") as one, connect("assistant") as two:

        async def call(client: Client) -> None:
            results.append((await client.call_tool("whoami", {})).is_error)

        async with anyio.create_task_group() as group:
            for client in (one, two, one, two, one, two):
                group.start_soon(call, client)
    served = results.count(False)
    assert len(results) == 6 and 1 <= served <= 3, results
    refused = [r for r in audit_rows(settings) if r["rule_id"] == "rate-limit"]
    assert len(refused) == 6 - served


def _window_db(tmp_path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(tmp_path / "window.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("BEGIN IMMEDIATE")
    prepare(conn)
    conn.execute("COMMIT")
    return conn


def test_window_counts_the_last_minute_and_forgets_older_seconds(tmp_path):
    conn = _window_db(tmp_path)
    record_calls(conn, ["a", "a", "b"], now=1000.5)
    try:
        assert count_calls(conn, "a", 1000.9).calls == 2
        record_calls(conn, ["a"], now=1030.2)
        assert count_calls(conn, "a", 1059.0).calls == 3
        assert count_calls(conn, "a", 1060.99).calls == 3  # second 1000 may hold a call from t<1001
        assert count_calls(conn, "a", 1061.0).calls == 1
        assert count_calls(conn, "b", 1030.0).calls == 1
        assert count_calls(conn, "a", 1059.0).seconds_until_one_leaves(1059.0) == 2.0
        record_calls(conn, ["a"], now=1100.0)  # prunes a's seconds that left the window
        rows = conn.execute("SELECT principal, second FROM call_window ORDER BY 1, 2").fetchall()
        assert rows == [("a", 1100), ("b", 1000)]
    finally:
        conn.close()


def test_the_writer_drops_a_principals_old_seconds_at_most_once_a_second(tmp_path):
    """With the writer's ``pruned`` memo a batch in the same second as the last prune skips
    the DELETE; a second left behind meanwhile (another process's, say) is dropped the next
    second, and no count ever includes it."""
    conn = _window_db(tmp_path)
    pruned: dict[str, int] = {}
    seconds = "SELECT second FROM call_window WHERE principal = 'a' ORDER BY 1"
    try:
        record_calls(conn, ["a"], now=1000.5, pruned=pruned)
        record_calls(conn, ["a"], now=1100.2, pruned=pruned)  # second 1000 left the window
        assert conn.execute(seconds).fetchall() == [(1100,)]
        conn.execute("INSERT INTO call_window VALUES ('a', 1001, 5)")  # written elsewhere, late
        record_calls(conn, ["a"], now=1100.7, pruned=pruned)  # same second: no prune
        assert conn.execute(seconds).fetchall() == [(1001,), (1100,)]
        assert count_calls(conn, "a", 1100.7).calls == 2  # the stale second is not counted
        record_calls(conn, ["a", "b"], now=1101.1, pruned=pruned)  # the next second: dropped
        assert conn.execute(seconds).fetchall() == [(1100,), (1101,)]
        assert pruned == {"a": 1041, "b": 1041}
    finally:
        conn.close()

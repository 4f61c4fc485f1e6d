"""A proposal whose change is stored but whose own audit row then fails: the change is withdrawn.

The pipeline writes a call's audit row once the tool has run, so a proposal's change commits
first. If that row then fails (the audit writer's connection to PostgreSQL is cut while it waits
for the chain's head; the SQLite writer's connection turns read-only), the caller is refused as
unaudited, and the change must not sit in the reviewers' queue with nothing on record asking for
it: it is withdrawn at once, with an audit row saying so, and can never be approved or applied.
When the log refuses that row too, the change stays unapprovable and is withdrawn as soon as the
log takes rows again (the next proposal tries first).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, cast

import psycopg
import pytest

from mopsgate.governance.audit_query import AuditQuery
from mopsgate.governance.change_model import Change, ChangeStatus
from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from mopsgate.storage import audit_reader
from tests.conftest import text_of
from tests.server.e2e_support import review
from tests.server.test_changes_kit import MK, REASON, ok, people, propose_titles
from tests.storage.server_settings import backend_settings

Losing = Callable[[Runtime, Settings, str], AbstractAsyncContextManager[None]]
S = ChangeStatus
NEVER = 30  # only a guard against a hang turning into a stuck suite
# Another session holds the chain's head FOR SHARE: the audit writer's FOR UPDATE waits for it,
# while a proposal's check that the log would take its row (FOR KEY SHARE) does not.
HOLD_HEAD = "SELECT 1 FROM audit_head WHERE id = 1 FOR SHARE"
WAITING_WRITER = (
    "SELECT pid FROM pg_stat_activity WHERE application_name = 'mopsgate-audit' "
    "AND wait_event_type = 'Lock' AND datname = current_database()"
)


@asynccontextmanager
async def pg_connection_lost(
    runtime: Runtime, settings: Settings, admin: str
) -> AsyncIterator[None]:
    """The audit writer's connection is terminated while it waits to chain the proposal's row
    (the change is committed by then); the head is let go at once after."""
    with psycopg.connect(admin) as holder, psycopg.connect(admin, autocommit=True) as look:
        holder.execute(HOLD_HEAD)

        async def cut() -> None:
            async with asyncio.timeout(NEVER):
                while (row := look.execute(WAITING_WRITER).fetchone()) is None:
                    await asyncio.sleep(0.01)
            look.execute("SELECT pg_terminate_backend(%s)", row)
            holder.rollback()

        task = asyncio.ensure_future(cut())
        yield
        await task


@asynccontextmanager
async def sqlite_writer_read_only(
    runtime: Runtime, settings: Settings, _admin: str
) -> AsyncIterator[None]:
    writer = cast(Any, runtime.require_storage()).audit.db
    await writer.call(lambda c: c.execute("PRAGMA query_only = ON"))
    try:
        yield
    finally:
        await writer.call(lambda c: c.execute("PRAGMA query_only = OFF"))


@pytest.fixture
def settings(
    tmp_path: Path,
    manifest_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    callspec = getattr(request.node, "callspec", None)  # not parametrized: PostgreSQL
    sqlite = callspec is not None and callspec.id.startswith("sqlite")
    return backend_settings(request, tmp_path, manifest_path, monkeypatch, sqlite=sqlite)


def propose(client: Any, idx: int) -> Any:
    args = {"refs": [MK.ref(idx)], "fields": {"title": "Never on record"}, "reason": REASON}
    return client.call_tool("propose_update_person", args)


async def only_change(runtime: Runtime) -> Change:
    changes = await runtime.require_storage().changes.list_changes()
    assert len(changes) == 1, changes
    return changes[0]


async def rows_of(settings: Settings, change_id: str) -> list[tuple[str, str | None]]:
    reader = audit_reader(settings.storage())
    return [(r.kind, r.tool) async for r in reader.query(AuditQuery(change_id=change_id))]


def assert_withdrawn(change: Change) -> None:
    assert change.status is S.CANCELLED, change.status
    assert change.status_detail is not None and change.status_detail.startswith("withdrawn:")


@pytest.mark.parametrize(
    "losing",
    [
        pytest.param(pg_connection_lost, id="postgres-connection-lost"),
        pytest.param(sqlite_writer_read_only, id="sqlite-writer-read-only"),
    ],
)
async def test_a_proposal_whose_audit_row_is_lost_is_withdrawn(
    connect, runtime: Runtime, settings: Settings, losing: Losing, request
):
    admin = request.getfixturevalue("pg_url") if settings.database_url else ""
    runtime.notify_background = False  # the only audit row in flight is the proposal's
    async with connect("assistant") as client:
        await ok(client, "list_my_changes")  # the server is open, its start-up rows written
        async with losing(runtime, settings, admin):
            result = await propose(client, people("subscribed", 1, start=230)[0])
        text = text_of(result)
        assert result.is_error and text.startswith("[audit_unavailable]"), text
        change = await only_change(runtime)
        assert f"({change.id}) is withdrawn" in text, text
        assert result.structured_content is None  # no token handed out
        assert_withdrawn(change)
        assert (await ok(client, "get_change", change_id=change.id))["status"] == "cancelled"
        refused = review(settings, "approve", change.id, "--reviewer", "mops-lead")
        assert refused.exit_code != 0, refused.output
        assert_withdrawn(await only_change(runtime))
    # No row of the proposing call; the withdrawal's row, then the requester's get_change.
    rows = await rows_of(settings, change.id)
    assert rows[0] == ("recovery", "propose_update_person"), rows
    assert ("tool_call", "propose_update_person") not in rows


async def test_a_withdrawal_the_log_refuses_too_waits_unapprovable_for_the_log(
    connect, runtime: Runtime, pg_url: str
):
    runtime.audit_busy_ms = 200  # how long a write waits for a lock before it gives up
    idxs = people("subscribed", 2, start=240)
    async with connect("assistant") as client:
        await ok(client, "list_my_changes")
        with psycopg.connect(pg_url) as holder:  # the head held throughout: no row is chained
            holder.execute(HOLD_HEAD)
            result = await propose(client, idxs[0])
            text = text_of(result)
            assert result.is_error and text.startswith("[audit_unavailable]"), text
            assert "withdrawn once the log takes rows again" in text, text
            waiting = await only_change(runtime)
            assert waiting.status is S.PROPOSED
            holder.rollback()
        refused = review(runtime.settings, "approve", waiting.id, "--reviewer", "mops-lead")
        assert refused.exit_code != 0 and "cannot be approved" in refused.output, refused.output
        assert (await runtime.require_storage().changes.require(waiting.id)).approvals == []
        # The log takes rows again: the next proposal first withdraws what was left.
        kept = await propose_titles(client, MK, [idxs[1]])
        assert_withdrawn(await runtime.require_storage().changes.require(waiting.id))
    assert await rows_of(runtime.settings, waiting.id) == [
        ("review", "review approve"),  # the refused approval
        ("recovery", "propose_update_person"),  # the withdrawal
    ]
    assert await rows_of(runtime.settings, kept["change_id"]) == [
        ("tool_call", "propose_update_person")
    ]

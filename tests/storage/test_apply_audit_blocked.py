"""An apply whose own audit row could not be committed is refused before the vendor hears of it.

The intent row an apply writes first does not count the call toward its principal's calls per
minute, so it commits while the commit of the call's own row (which does) would fail: on
PostgreSQL, the server's role may not write ``call_window`` (a privilege revoked by hand) or
another session holds a lock on it. The apply must then be refused with nothing written to the
vendor, the token unspent and the change still approved, so it applies once the log takes rows
again. On SQLite one write lock covers every table: the same refusal, the database locked by
another process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import psycopg
import pytest

from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import text_of
from tests.server.e2e_support import approve
from tests.server.test_changes_kit import MK, apply, ok, people, propose_titles
from tests.server.test_readonly_database import (  # noqa: F401
    APP_ROLE,
    _admin,
    app_role_url,
    sqlite_locked,
)
from tests.storage.server_settings import backend_settings

Blocking = Callable[[Runtime, Settings, str], AbstractAsyncContextManager[None]]


@asynccontextmanager
async def window_revoked(runtime: Runtime, settings: Settings, admin: str) -> AsyncIterator[None]:
    _admin(admin, f"REVOKE INSERT, UPDATE, DELETE ON call_window FROM {APP_ROLE}")
    try:
        yield
    finally:
        _admin(admin, f"GRANT INSERT, UPDATE, DELETE ON call_window TO {APP_ROLE}")


@asynccontextmanager
async def window_locked(runtime: Runtime, settings: Settings, admin: str) -> AsyncIterator[None]:
    with psycopg.connect(admin) as holder:  # a transaction, open until the block ends
        holder.execute("LOCK TABLE call_window IN SHARE MODE")
        yield
        holder.rollback()


@pytest.fixture
def settings(
    tmp_path: Path,
    manifest_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    sqlite = request.node.callspec.id == "sqlite-locked"
    # PostgreSQL: the server's own role, not a superuser, so a privilege can be revoked.
    args = (request, tmp_path, manifest_path, monkeypatch)
    return backend_settings(*args, sqlite=sqlite, url_fixture="app_role_url")


@pytest.mark.parametrize(
    ("blocking", "says"),
    [
        pytest.param(window_revoked, "may not use", id="postgres-window-revoked"),
        pytest.param(window_locked, "is locked", id="postgres-window-locked"),
        pytest.param(sqlite_locked, "is locked", id="sqlite-locked"),
    ],
)
async def test_an_apply_whose_audit_row_would_fail_writes_nothing_to_the_vendor(
    connect, runtime: Runtime, settings: Settings, blocking: Blocking, says: str, request
):
    admin = request.getfixturevalue("pg_url") if settings.database_url else ""
    runtime.audit_busy_ms = 200  # how long a write waits for a lock before it gives up
    emu = runtime.connectors.emulator("marketo")
    idxs = people("subscribed", 2, start=210)
    async with connect("assistant") as client:
        plan = await propose_titles(client, MK, idxs)
        approve(settings, plan["change_id"])
        emu.core.reset_log()
        async with blocking(runtime, settings, admin):
            refused = await apply(client, plan)
        text = text_of(refused)
        assert refused.is_error and text.startswith("[audit_unavailable]"), text
        assert says in text, text
        # Told the truth: nothing happened, and it may try again (not "what it did stands").
        assert "nothing was written" in text and "make the call again" in text, text
        assert "Do not repeat" not in text, text
        assert emu.core.write_requests == []  # the vendor never heard of it
        assert (await ok(client, "get_change", change_id=plan["change_id"]))["status"] == "approved"
        applied = await apply(client, plan)  # the same token: it was not spent
        assert not applied.is_error, text_of(applied)
    assert len(emu.core.write_requests) == 1
    assert {emu.person_fields(MK.native(i))["title"] for i in idxs} == {"Head of Refusals"}

"""The database stops taking writes while the server runs (catalogue L-08).

Every call fails closed — a read too, since its audit row cannot be made durable: no data is
handed out, a proposal is refused, an approved change is not applied and no vendor hears of it.
Once the database takes writes again the server works on its own, the change applies once and
the chain verifies. Three ways the database refuses, each deterministic:

- **read-only under the server**: the kernel refuses writes through the descriptors the server
  already holds — ``chattr +i`` on the database and its write-ahead log, on a filesystem probed
  to enforce that (EPERM, as a read-only remount gives EROFS; ``tests/support/immutable.py``
  says why tmpfs does not, and why the first version of this test, run on tmpfs, saw a read
  answered: its row had in fact been written);
- **read-only to SQLite** (``SQLITE_READONLY``, what a file that could only be opened
  read-only — permission denied — answers to a write): the server's writing connections made
  query-only. A running server keeps the access its descriptors were opened with, so permission
  denied meets a *new* process: ``tests/test_cli_database_errors.py`` (``serve`` refuses to
  start, every writing command refuses, as a user without root's override);
- **locked**: another process holds the write lock beyond the busy timeout.

And on PostgreSQL, the same three while the server runs: the database turned read-only (as after
a fail-over to a standby: ``default_transaction_read_only`` set and the sessions reconnected),
the privilege to write the audit log revoked from the server's own role, and the audit chain's
head row locked by another session beyond ``lock_timeout``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import psycopg
import pytest

from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from mopsgate.storage import audit_reader
from tests.conftest import text_of
from tests.server.e2e_support import approve
from tests.server.test_changes_kit import MK, REASON, apply, ok, people, propose_titles
from tests.support.immutable import enforcing_tmp_dir, immutable
from tests.support.postgres import replica_settings

# (the running server, its settings, a superuser's URL on PostgreSQL) -> the refusing state
Refusing = Callable[[Runtime, Settings, str], AbstractAsyncContextManager[None]]
APP_ROLE = "mopsgate_l08_app"


@asynccontextmanager
async def files_immutable(runtime: Runtime, settings: Settings, _admin: str) -> AsyncIterator[None]:
    files = [settings.db_path, Path(f"{settings.db_path}-wal")]
    assert all(f.exists() for f in files)  # a running server in WAL mode has both
    with immutable(files):
        yield


@asynccontextmanager
async def sqlite_read_only(
    runtime: Runtime, settings: Settings, _admin: str
) -> AsyncIterator[None]:
    storage = cast(Any, runtime.require_storage())
    writers = [storage.state, storage.audit.db]
    for db in writers:
        await db.call(lambda c: c.execute("PRAGMA query_only = ON"))
    try:
        yield
    finally:
        for db in writers:
            await db.call(lambda c: c.execute("PRAGMA query_only = OFF"))


@asynccontextmanager
async def sqlite_locked(runtime: Runtime, settings: Settings, _admin: str) -> AsyncIterator[None]:
    script = (
        "import sqlite3, sys\n"
        f"c = sqlite3.connect({str(settings.db_path)!r}, isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE')\n"
        "print('locked', flush=True)\n"
        "sys.stdin.readline()\n"
        "c.execute('ROLLBACK')\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.communicate("done\n", timeout=30)
    assert holder.returncode == 0


def _admin(url: str, *statements: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET default_transaction_read_only = off")
        for sql in statements:
            conn.execute(sql.encode())


# Every other session of the database ends; the server's pools reconnect by themselves.
RECONNECT_EVERYONE = (
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


@asynccontextmanager
async def pg_read_only(runtime: Runtime, settings: Settings, admin: str) -> AsyncIterator[None]:
    db = urlsplit(admin).path.lstrip("/")
    _admin(
        admin,
        f"ALTER DATABASE {db} SET default_transaction_read_only = on",
        RECONNECT_EVERYONE,
    )
    try:
        yield
    finally:
        _admin(
            admin,
            f"ALTER DATABASE {db} RESET default_transaction_read_only",
            RECONNECT_EVERYONE,
        )


@asynccontextmanager
async def pg_privilege_revoked(
    runtime: Runtime, settings: Settings, admin: str
) -> AsyncIterator[None]:
    _admin(admin, f"REVOKE INSERT, UPDATE ON audit_log, audit_head FROM {APP_ROLE}")
    try:
        yield
    finally:
        _admin(admin, f"GRANT INSERT, UPDATE ON audit_log, audit_head TO {APP_ROLE}")


@asynccontextmanager
async def pg_locked(runtime: Runtime, settings: Settings, admin: str) -> AsyncIterator[None]:
    with psycopg.connect(admin) as holder:  # a transaction, open until the block ends
        holder.execute("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")
        yield
        holder.rollback()


@pytest.fixture
def app_role_url(pg_url: str) -> Iterator[str]:
    """The server's own role, not a superuser: one a privilege can be revoked from."""
    _admin(
        pg_url,
        f"DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN; "
        "EXCEPTION WHEN duplicate_object THEN NULL; END $$",
        f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}",
        f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {APP_ROLE}",
        f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}",
    )
    parts = urlsplit(pg_url)
    yield parts._replace(netloc=f"{APP_ROLE}@{parts.hostname}:{parts.port}").geturl()
    _admin(pg_url, f"DROP OWNED BY {APP_ROLE}")


SQLITE = ("read-only-under-the-server", "read-only-to-sqlite", "locked-beyond-busy-timeout")


@pytest.fixture
def settings(
    tmp_path: Path,
    manifest_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Settings]:
    case = request.node.callspec.id
    if case == "read-only-under-the-server":
        with enforcing_tmp_dir() as folder:
            yield Settings(manifest_path, folder / "home", "memory", manifest_settle_seconds=0)
    elif case in SQLITE:
        yield Settings(manifest_path, tmp_path / "home", "memory", manifest_settle_seconds=0)
    else:
        url = request.getfixturevalue("app_role_url" if "privilege" in case else "pg_url")
        monkeypatch.setenv("MOPSGATE_DATABASE_URL", url)  # for the reviewers' CLI
        yield replica_settings(tmp_path, manifest_path, url)


async def _refused_closed(call: Any, says: str) -> None:
    result = await call
    text = text_of(result)
    assert result.is_error and text.startswith("[audit_unavailable]"), text
    assert says in text, text
    assert result.structured_content is None  # nothing handed out without its audit row


@pytest.mark.parametrize(
    ("refusing", "says"),
    [
        pytest.param(files_immutable, "refuses writes", id="read-only-under-the-server"),
        pytest.param(sqlite_read_only, "is read-only", id="read-only-to-sqlite"),
        pytest.param(sqlite_locked, "is locked", id="locked-beyond-busy-timeout"),
        pytest.param(pg_read_only, "accepts no writes", id="postgres-read-only"),
        pytest.param(pg_privilege_revoked, "may not use", id="postgres-privilege-revoked"),
        pytest.param(pg_locked, "is locked", id="postgres-locked-beyond-lock-timeout"),
    ],
)
async def test_a_database_that_stops_taking_writes_fails_every_call_closed(
    connect, runtime: Runtime, settings: Settings, refusing: Refusing, says: str, request
):
    admin = request.getfixturevalue("pg_url") if settings.database_url else ""
    runtime.audit_busy_ms = 200  # how long a write waits for a lock before it gives up
    emu = runtime.connectors.emulator("marketo")
    idxs = people("subscribed", 2, start=190)
    log = audit_reader(settings.storage())
    async with connect("assistant") as client:
        plan = await propose_titles(client, MK, idxs)
        approve(settings, plan["change_id"])
        head = await log.head()
        emu.core.reset_log()
        async with refusing(runtime, settings, admin):
            read = client.call_tool("get_person", {"ref": MK.ref(idxs[0])})
            await _refused_closed(read, says)
            proposal = client.call_tool(
                "propose_update_person",
                {"refs": [MK.ref(idxs[0])], "fields": {"title": "Never"}, "reason": REASON},
            )
            await _refused_closed(proposal, says)
            await _refused_closed(apply(client, plan), says)
            assert emu.core.write_requests == []
        assert (await log.head()).seq == head.seq  # not one row for the refused calls
        assert (await ok(client, "get_change", change_id=plan["change_id"]))["status"] == "approved"
        # The refused proposal left no change behind: nothing in the reviewers' queue or the
        # requester's listing that no audit row accounts for.
        listed = await ok(client, "list_my_changes")
        assert [c["change_id"] for c in listed["changes"]] == [plan["change_id"]], listed
        queue = await runtime.require_storage().changes.list_changes()
        assert [c.id for c in queue] == [plan["change_id"]]
        read_again = await client.call_tool("get_person", {"ref": MK.ref(idxs[0])})
        assert not read_again.is_error, text_of(read_again)
        applied = await apply(client, plan)
        assert not applied.is_error, text_of(applied)
    assert len(emu.core.write_requests) == 1
    assert {emu.person_fields(MK.native(i))["title"] for i in idxs} == {"Head of Refusals"}
    assert (await log.verify()).ok

"""The versioned schema as an operator meets it: a new file just works, an old file is
recognised, a mismatch refuses to start and says what to run, and `mopsgate db` fixes it."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from mopsgate.storage import StorageConfig, audit_reader, open_storage
from mopsgate.storage.errors import SchemaTooNew, SchemaTooOld, StorageUnavailable
from mopsgate.storage.migrate import HEAD, MIGRATIONS
from mopsgate.storage.sqlite.schema import VERSION_TABLE, migration_files, statements
from tests.storage.backends import SqliteBackend
from tests.storage.events import allowed

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


def cfg(home: Path) -> StorageConfig:
    return StorageConfig.sqlite(home / "mopsgate.db")


def query(home: Path, sql: str) -> list[tuple[object, ...]]:
    return SqliteBackend(home).query(sql)


def execute(home: Path, *statements: str) -> None:
    SqliteBackend(home).execute(*statements)


def mopsgate(*args: str) -> Result:
    from mopsgate.server.cli import app

    return runner.invoke(app, list(args))


def test_every_migration_has_its_sql_file_and_nothing_else_does() -> None:
    assert {m.label for m in MIGRATIONS} == set(migration_files())
    assert [m.version for m in MIGRATIONS] == list(range(1, HEAD + 1))
    for sql in migration_files().values():
        assert statements(sql), "a migration with no statement"


async def test_a_new_file_is_created_at_head(home: Path) -> None:
    storage = await open_storage(cfg(home))
    await storage.audit.append(allowed())
    await storage.close()
    versions = query(home, "SELECT version, name FROM schema_version ORDER BY version")
    assert versions == [(m.version, m.name) for m in MIGRATIONS]
    tables = {r[0] for r in query(home, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"audit_log", "changes", "approvals", "used_nonces", "bearer_tokens"} <= tables


async def test_a_file_from_before_versioning_is_stamped_then_upgraded(home: Path) -> None:
    """What mopsgate wrote before versions existed (here: its audit log with a row in it) is
    version 1 as it stands: stamped, refused until upgraded, then served with its rows."""
    sql = migration_files()["0001_baseline"]
    audit_table = next(s for s in statements(sql) if "audit_log" in s)
    execute(home, "PRAGMA journal_mode=WAL", audit_table)
    with pytest.raises(SchemaTooOld, match="schema version 1;"):
        await open_storage(cfg(home))
    assert query(home, "SELECT version FROM schema_version") == [(1,)]
    assert query(home, "SELECT COUNT(*) FROM changes") == [(0,)]  # filled in by 0001
    upgrade = await asyncio.to_thread(mopsgate, "db", "upgrade", "--home", str(home))
    assert upgrade.exit_code == 0, upgrade.output
    assert [f"Applied {m.label}." for m in MIGRATIONS[1:]] == upgrade.output.splitlines()[:-1]
    storage = await open_storage(cfg(home))
    await storage.audit.append(allowed())
    assert (await storage.audit_reader.verify()).rows == 1
    await storage.close()
    versions = query(home, "SELECT version FROM schema_version ORDER BY version")
    assert versions == [(m.version,) for m in MIGRATIONS]


async def test_a_newer_schema_is_refused_everywhere(home: Path) -> None:
    storage = await open_storage(cfg(home))
    await storage.audit.append(allowed())
    await storage.close()
    future = HEAD + 5
    execute(
        home,
        f"INSERT INTO schema_version VALUES ({future}, 'future', '2030-01-01', 'someone')",  # noqa: S608
    )
    with pytest.raises(SchemaTooNew, match=f"newer mopsgate \\(schema version {future} > {HEAD}"):
        await open_storage(cfg(home))
    with pytest.raises(SchemaTooNew):
        await audit_reader(cfg(home)).verify()
    status = await asyncio.to_thread(mopsgate, "db", "status", "--home", str(home))
    assert status.exit_code == 1
    assert "written by a newer mopsgate" in status.output
    assert query(home, "SELECT COUNT(*) FROM audit_log") == [(1,)]


def test_serve_refuses_a_schema_it_was_not_built_for(home: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "permissions.toml"
    shutil.copy(ROOT / "permissions.toml", manifest)
    execute(
        home,
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "applied_at TEXT NOT NULL, applied_by TEXT NOT NULL)",
        f"INSERT INTO schema_version VALUES ({HEAD + 1}, 'future', '2030-01-01', 'x')",  # noqa: S608
    )
    result = mopsgate(
        "serve", "--principal", "assistant", "--manifest", str(manifest), "--home", str(home)
    )
    assert result.exit_code == 2
    output = result.output
    assert "refusing to start" in output and "newer mopsgate" in output


def at_version(home: Path, version: int) -> None:
    """A database as an older mopsgate left it: migrations 1..version applied."""
    script = [VERSION_TABLE]
    for migration in MIGRATIONS[:version]:
        script += statements(migration_files()[migration.label])
        script.append(
            f"INSERT INTO schema_version VALUES ({migration.version}, '{migration.name}', "  # noqa: S608
            "'2026-01-01T00:00:00+00:00', 'an older mopsgate')"
        )
    execute(home, "PRAGMA journal_mode=WAL", *script)


async def test_an_older_schema_is_refused_until_upgraded(home: Path) -> None:
    """Refused with the command to run; `db status` lists what is pending; `db upgrade`
    applies it and keeps every row."""
    at_version(home, HEAD - 1)
    execute(
        home,
        "INSERT INTO bearer_tokens (token_hash, principal, created_at) "
        "VALUES ('h', 'assistant', '2026-01-01T00:00:00+00:00')",
    )
    with pytest.raises(SchemaTooOld) as info:
        await open_storage(cfg(home))
    assert f"schema version {HEAD - 1}; this mopsgate needs version {HEAD}" in info.value.message
    assert "mopsgate db upgrade" in info.value.hint

    status = await asyncio.to_thread(mopsgate, "db", "status", "--home", str(home))
    assert status.exit_code == 1
    assert MIGRATIONS[-1].label in status.output
    upgrade = await asyncio.to_thread(mopsgate, "db", "upgrade", "--home", str(home))
    assert upgrade.exit_code == 0, upgrade.output
    assert f"Applied {MIGRATIONS[-1].label}." in upgrade.output
    status = await asyncio.to_thread(mopsgate, "db", "status", "--home", str(home))
    assert status.exit_code == 0 and "Up to date." in status.output

    storage = await open_storage(cfg(home))
    record = await storage.tokens.lookup("h")
    await storage.close()
    assert record is not None and record.principal == "assistant"


def test_db_commands_on_a_new_home(home: Path) -> None:
    status = mopsgate("db", "status", "--home", str(home))
    assert status.exit_code == 0
    assert f"created at schema version {HEAD} on first use" in status.output
    upgrade = mopsgate("db", "upgrade", "--home", str(home))
    assert upgrade.exit_code == 0
    assert f"at schema version {HEAD}" in upgrade.output
    assert query(home, "SELECT MAX(version) FROM schema_version") == [(HEAD,)]


async def test_a_file_that_is_not_mopsgates_is_refused(home: Path) -> None:
    execute(home, "CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    with pytest.raises(StorageUnavailable, match="not mopsgate's"):
        await open_storage(cfg(home))
    assert query(home, "SELECT name FROM sqlite_master WHERE type='table'") == [("invoices",)]

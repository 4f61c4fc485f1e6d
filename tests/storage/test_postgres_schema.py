"""The versioned schema on PostgreSQL as an operator meets it: the same migration numbers as
SQLite; an empty database is never given a schema by a replica (it is refused as too old,
naming the command to run); `mopsgate db upgrade --database-url` creates and upgrades it;
a newer schema is refused; two operators upgrading at once apply each migration once."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner, Result

from mopsgate.storage import StorageConfig, audit_reader, open_storage, upgrade_schema
from mopsgate.storage.errors import SchemaTooNew, SchemaTooOld
from mopsgate.storage.migrate import HEAD, MIGRATIONS
from mopsgate.storage.postgres.schema import migration_files as pg_migrations
from mopsgate.storage.sqlite.schema import migration_files as sqlite_migrations
from tests.storage.events import allowed
from tests.support.postgres import PgServer

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def mopsgate(*args: str) -> Result:
    from mopsgate.server.cli import app

    return runner.invoke(app, list(args))


@pytest.fixture
def empty_url(pg_server: PgServer) -> Iterator[str]:
    """A database nobody has run mopsgate against."""
    name = pg_server.create_database()
    yield pg_server.url(name)
    pg_server.drop_database(name)


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r[0] for r in rows}


def test_both_backends_ship_the_same_migration_numbers() -> None:
    expected = {m.label for m in MIGRATIONS}
    assert set(sqlite_migrations()) == expected
    assert set(pg_migrations()) == expected


async def test_an_empty_database_is_refused_never_created(empty_url: str) -> None:
    with pytest.raises(SchemaTooOld) as info:
        await open_storage(StorageConfig(empty_url))
    assert f"schema version 0; this mopsgate needs version {HEAD}" in info.value.message
    assert "mopsgate db upgrade" in info.value.hint
    assert "postgres@" not in info.value.message  # the user (or a password) is never shown
    assert tables(empty_url) == set()


def test_db_upgrade_creates_the_schema_then_the_server_starts(
    empty_url: str, tmp_path: Path
) -> None:
    status = mopsgate("db", "status", "--database-url", empty_url, "--home", str(tmp_path))
    assert status.exit_code == 1
    assert "schema version 0" in status.output and MIGRATIONS[0].label in status.output
    upgrade = mopsgate("db", "upgrade", "--database-url", empty_url, "--home", str(tmp_path))
    assert upgrade.exit_code == 0, upgrade.output
    assert [f"Applied {m.label}." for m in MIGRATIONS] == upgrade.output.splitlines()[:-1]
    status = mopsgate("db", "status", "--database-url", empty_url, "--home", str(tmp_path))
    assert status.exit_code == 0 and "Up to date." in status.output
    assert {"audit_log", "audit_head", "changes", "schema_version"} <= tables(empty_url)
    assert not (tmp_path / "mopsgate.db").exists()  # the URL, not the home's SQLite file


def test_serve_refuses_an_empty_database_and_names_the_command(
    empty_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = tmp_path / "permissions.toml"
    shutil.copy(ROOT / "permissions.toml", manifest)
    monkeypatch.setenv("MOPSGATE_DATABASE_URL", empty_url)
    result = mopsgate(
        "serve", "--principal", "assistant", "--manifest", str(manifest), "--home", str(tmp_path)
    )
    assert result.exit_code == 2
    assert "refusing to start" in result.output and "mopsgate db upgrade" in result.output
    assert tables(empty_url) == set()


async def test_a_newer_schema_is_refused_everywhere(pg_url: str) -> None:
    cfg = StorageConfig(pg_url)
    storage = await open_storage(cfg)
    await storage.audit.append(allowed())
    await storage.close()
    with psycopg.connect(pg_url) as conn:
        conn.execute(
            "INSERT INTO schema_version (version, name, applied_by) VALUES (%s, 'future', 'x')",
            (HEAD + 5,),
        )
    try:
        with pytest.raises(SchemaTooNew, match=f"schema version {HEAD + 5} > {HEAD}"):
            await open_storage(cfg)
        with pytest.raises(SchemaTooNew):
            await audit_reader(cfg).verify()
        with pytest.raises(SchemaTooNew):
            await upgrade_schema(cfg)
    finally:
        with psycopg.connect(pg_url) as conn:
            conn.execute("DELETE FROM schema_version WHERE version > %s", (HEAD,))


async def test_an_older_schema_is_refused_until_upgraded_and_keeps_its_rows(
    empty_url: str,
) -> None:
    with psycopg.connect(empty_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), applied_by TEXT NOT NULL)"
        )
        for m in MIGRATIONS[:-1]:
            conn.execute(pg_migrations()[m.label].encode())
            conn.execute(
                "INSERT INTO schema_version (version, name, applied_by) VALUES (%s, %s, 'old')",
                (m.version, m.name),
            )
        conn.execute(
            "INSERT INTO bearer_tokens (token_hash, principal, created_at) "
            "VALUES ('h', 'assistant', now())"
        )
    cfg = StorageConfig(empty_url)
    with pytest.raises(SchemaTooOld, match=f"schema version {HEAD - 1};"):
        await open_storage(cfg)
    assert [m.label for m in await upgrade_schema(cfg)] == [MIGRATIONS[-1].label]
    storage = await open_storage(cfg)
    try:
        record = await storage.tokens.lookup("h")
        assert record is not None and record.principal == "assistant"
    finally:
        await storage.close()


async def test_two_operators_upgrading_at_once_apply_each_migration_once(empty_url: str) -> None:
    cfg = StorageConfig(empty_url)
    first, second = await asyncio.gather(upgrade_schema(cfg), upgrade_schema(cfg))
    assert sorted(m.version for m in [*first, *second]) == [m.version for m in MIGRATIONS]
    with psycopg.connect(empty_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY 1")]
    assert versions == [m.version for m in MIGRATIONS]

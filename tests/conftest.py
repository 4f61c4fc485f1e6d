"""Shared fixtures: a runtime on a temporary state directory with the shipped manifest, and an
in-memory MCP client factory (opened inside each test: see mcp-sdk-2x.md §2.2)."""

from __future__ import annotations

import gc
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from mopsgate.server.app import Runtime, build_runtime, build_server
from mopsgate.server.settings import Settings
from tests.support.clock import FakeClock
from tests.support.postgres import PgServer, missing
from tests.support.reviewers import declare_keys, install_keys

ROOT = Path(__file__).resolve().parent.parent


def pytest_collection_finish(session: pytest.Session) -> None:
    """What each worker imported (mopsgate, the SDK, pydantic's models, every test module) out
    of the cyclic GC's reach: a test's full collections then walk what the tests made, not the
    whole imported heap again and again (measured: tests/governance + tests/tools 62 -> 49.5 s
    of CPU, one process)."""
    gc.freeze()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A throwaway PostgreSQL server for this session (``tests/support/postgres.py``), with a
    database at schema HEAD; skipped, saying what to install, where none can run (failed
    instead under MOPSGATE_REQUIRE_POSTGRES=1, as in CI)."""
    why = missing()
    if why is not None:
        if os.environ.get("MOPSGATE_REQUIRE_POSTGRES") == "1":
            pytest.fail(why)
        pytest.skip(why)
    from mopsgate.server.cli_async import run
    from mopsgate.storage import StorageConfig, upgrade_schema

    server = PgServer()
    try:
        server.shared = server.create_database()
        run(upgrade_schema(StorageConfig(server.url(server.shared))))
        server.remember_seed(server.shared)
        yield server
    finally:
        server.close()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """The session's database at schema HEAD, emptied for this test."""
    pg_server.ensure_running()
    pg_server.reset(pg_server.shared)
    return pg_server.url(pg_server.shared)


@pytest.fixture
def fake_clock() -> FakeClock:
    """Time that passes only when the code under test sleeps (or the test advances it)."""
    return FakeClock()


# The shipped manifest's reviewers, each with a signing key declared (as after `mopsgate
# reviewer keygen`) and installed in the test's own config dir, so `mopsgate review approve
# --reviewer NAME` signs as NAME.
REVIEWERS = ("mops-lead", "compliance")


@pytest.fixture(autouse=True)
def reviewer_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own XDG config dir holding the reviewers' private keys."""
    config = tmp_path / "xdg-config"
    install_keys(config, REVIEWERS)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    return config


@pytest.fixture
def manifest_path(tmp_path: Path) -> Path:
    target = tmp_path / "permissions.toml"
    shutil.copy(ROOT / "permissions.toml", target)
    declare_keys(target, REVIEWERS)
    return target


@pytest.fixture
def settings(tmp_path: Path, manifest_path: Path) -> Settings:
    # The in-memory sandbox, chosen explicitly: each test starts from the seed, fast. The
    # persistent one has its own tests (tests/sandbox/test_persistent_*.py).
    # Manifest edits apply at the next call (tests/server/test_manifest_files.py has the
    # settle period of a real server).
    return Settings(
        manifest_path=manifest_path,
        home=tmp_path / "home",
        sandbox="memory",
        manifest_settle_seconds=0.0,
    )


@pytest.fixture
def runtime(settings: Settings) -> Runtime:
    return build_runtime(settings, env={})


@pytest.fixture
def connect(runtime: Runtime) -> Callable[..., Client]:
    """``async with connect("assistant") as client`` — an in-memory client as that principal."""

    def _connect(principal: str | None = "assistant", **kw: Any) -> Client:
        server = build_server(runtime, transport="memory", resolve_principal=lambda _ctx: principal)
        kw.setdefault("raise_exceptions", kw.get("mode") != "legacy")
        return Client(server, **kw)

    return _connect


def text_of(result: Any) -> str:
    """The text of a tool result's first content block."""
    return str(result.content[0].text)


def audit_rows(settings: Settings) -> list[dict[str, Any]]:
    import sqlite3

    conn = sqlite3.connect(settings.db_path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM audit_log ORDER BY seq")]
    finally:
        conn.close()

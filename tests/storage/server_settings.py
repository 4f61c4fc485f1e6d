"""Settings for a server test that runs on either backend: SQLite in the state directory, or
PostgreSQL at the URL another fixture gives (the reviewers' CLI is pointed there too)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mopsgate.server.settings import Settings
from tests.support.postgres import replica_settings


def backend_settings(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    manifest_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    sqlite: bool,
    url_fixture: str = "pg_url",
) -> Settings:
    if sqlite:
        return Settings(manifest_path, tmp_path / "home", "memory", manifest_settle_seconds=0)
    url: str = request.getfixturevalue(url_fixture)
    monkeypatch.setenv("MOPSGATE_DATABASE_URL", url)  # for the reviewers' CLI
    return replica_settings(tmp_path, manifest_path, url)

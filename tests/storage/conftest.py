"""Storage fixtures: ``backend`` and an opened ``storage``, once per backend in BACKENDS (the
PostgreSQL one on the session's throwaway server, a fresh database per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mopsgate.storage import Storage
from tests.storage.backends import BACKENDS, Backend, PostgresBackend, SqliteBackend


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "postgres":
        return PostgresBackend(request.getfixturevalue("pg_url"))
    return SqliteBackend(tmp_path)


@pytest.fixture
async def storage(backend: Backend) -> AsyncIterator[Storage]:
    opened = await backend.open()
    try:
        yield opened
    finally:
        await opened.close()

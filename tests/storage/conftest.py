"""Storage fixtures: ``backend`` and an opened ``storage``, once per backend in BACKENDS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mopsgate.storage import Storage
from tests.storage.backends import BACKENDS, Backend


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    backend: Backend = BACKENDS[request.param](tmp_path)
    return backend


@pytest.fixture
async def storage(backend: Backend) -> AsyncIterator[Storage]:
    opened = await backend.open()
    try:
        yield opened
    finally:
        await opened.close()

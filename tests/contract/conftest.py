"""Contract tests (issue #11): each emulator served by uvicorn on a free loopback port, driven by
that vendor's widely used Python client and by mopsgate's own connector, as a user's script
would drive the real API.

The clients are synchronous, so the tests are plain ``def`` tests (an ``async def`` test would
block the loop the server may share). pytest-socket refuses anything but loopback, and each
client is built so it cannot wander off: no retries that hide a failure, short timeouts, and
(for ``requests``) ``trust_env=False`` so this machine's CA bundle and proxy variables stay
out of it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mopsgate.sandbox.tls import self_signed
from tests.server.loopback import serving


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """``serve(app, **uvicorn_config)`` → ``http://127.0.0.1:PORT`` (the scheme is http even
    when the config has a certificate), stopped at the end of the test."""
    with contextlib.ExitStack() as stack:

        def start(app: Any, **config: Any) -> str:
            return stack.enter_context(serving(lambda _sock: app, lifespan="off", **config))

        yield start


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1, as ``sandbox serve --tls`` makes."""
    return self_signed(tmp_path_factory.mktemp("tls"))

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
from typing import Any

import pytest

from tests.server.loopback import serving


@pytest.fixture
def serve() -> Iterator[Callable[[Any], str]]:
    """``serve(app)`` → ``http://127.0.0.1:PORT``, stopped at the end of the test."""
    with contextlib.ExitStack() as stack:
        yield lambda app: stack.enter_context(serving(lambda _sock: app, lifespan="off"))

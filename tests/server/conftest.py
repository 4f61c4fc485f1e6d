"""A real uvicorn server in a thread for the HTTP tests (a sync fixture: an async one holding a
server across ``yield`` breaks anyio's cancel scopes, see mcp-sdk-2x.md §2.2)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from mopsgate.server.app import Runtime
from mopsgate.server.http import build_http_app
from tests.server.loopback import serving


@pytest.fixture
def http_base(runtime: Runtime) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of ``build_http_app`` on a free port."""

    def app(sock: socket.socket) -> Any:
        return build_http_app(runtime, "127.0.0.1", sock.getsockname()[1])

    with serving(app, lifespan="on") as base:
        yield base

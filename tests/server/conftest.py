"""A real uvicorn server in a thread for the HTTP tests (a sync fixture: an async one holding a
server across ``yield`` breaks anyio's cancel scopes, see mcp-sdk-2x.md §2.2)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from mopsgate.server.app import Runtime
from mopsgate.server.http import build_http_app


@pytest.fixture
def http_base(runtime: Runtime) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of ``build_http_app`` on a free port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = build_http_app(runtime, "127.0.0.1", port)
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not uv.started:  # a server that never starts is caught by pytest-timeout
        assert thread.is_alive(), "uvicorn exited before it started"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(10)
    sock.close()

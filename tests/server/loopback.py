"""An ASGI app served by uvicorn on a free loopback port, in a thread of the test process.

Sync on purpose (used by sync fixtures): an async fixture holding a server across ``yield``
breaks anyio's cancel scopes (mcp-sdk-2x.md §2.2)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


@contextmanager
def serving(app: Callable[[socket.socket], Any], **config: Any) -> Iterator[str]:
    """Yield ``http://127.0.0.1:PORT``; ``app`` is built from the bound socket (an app may
    need to know its own port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    uv = uvicorn.Server(uvicorn.Config(app(sock), log_level="warning", **config))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not uv.started:  # a server that never starts is caught by pytest-timeout
        assert thread.is_alive(), "uvicorn exited before it started"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        uv.should_exit = True
        thread.join(10)
        sock.close()

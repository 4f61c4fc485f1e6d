"""An ASGI app served by uvicorn on a free loopback port, in a thread of the test process.

Sync on purpose (used by sync fixtures): an async fixture holding a server across ``yield``
breaks anyio's cancel scopes (mcp-sdk-2x.md §2.2)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


class _Server(uvicorn.Server):
    """uvicorn's server, stopped as soon as it is told to (:meth:`stop`). uvicorn notices its
    exit flag at a tick every 0.1 s, then pauses another 0.1 s for connections to close: about
    0.2 s per stop, and a run stops a server per test, dozens of times. Here the main loop waits
    on an event, and shutdown waits until the connections have closed, as long as that takes
    (each closes once its response is sent), not a fixed pause. The rest is uvicorn's own:
    the listening socket closed, every connection asked to close, then the lifespan's
    shutdown."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = threading.Event()
        self._wake: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        await self.on_tick(0)  # the default headers, which uvicorn's own loop sets first
        while not self._stopping.is_set():
            await self._wake.wait()

    def stop(self) -> None:
        self.should_exit = True
        self._stopping.set()
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        async with asyncio.timeout(10):  # a response that never ends fails the test's thread
            while self.server_state.connections or self.server_state.tasks:
                await asyncio.sleep(0.005)
        for server in self.servers:
            await server.wait_closed()
        await self.lifespan.shutdown()


@contextmanager
def serving(app: Callable[[socket.socket], Any], **config: Any) -> Iterator[str]:
    """Yield ``http://127.0.0.1:PORT``; ``app`` is built from the bound socket (an app may
    need to know its own port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    uv = _Server(uvicorn.Config(app(sock), log_level="warning", **config))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not uv.started:  # a server that never starts is caught by pytest-timeout
        assert thread.is_alive(), "uvicorn exited before it started"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        uv.stop()
        thread.join(10)
        sock.close()

"""Servers in their own processes: the HTTP servers of §2 and their clients."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from mcp import Client

from bench.common import HOST, child_env


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_for_port(proc: subprocess.Popen[bytes], port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early with status {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start listening") from None
            time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM lets uvicorn run the lifespan's shutdown (the audit writer drains and closes)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.asynccontextmanager
async def spawn_http(
    tmp: Path,
    manifest: Path,
    home: Path,
    governed: bool,
    on_start: Callable[[int], None] | None = None,
) -> AsyncIterator[str]:
    """The server's URL once it listens; ``on_start`` is told its process id."""
    port = free_port()
    module = "bench.http_server" if governed else "bench.bare"
    args = [str(port), str(manifest), str(home)] if governed else [str(port), str(manifest)]
    log = (tmp / f"{module}-{port}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=child_env(),
    )
    try:
        wait_for_port(proc, port)
        if on_start is not None:
            on_start(proc.pid)
        yield f"http://{HOST}:{port}/mcp"
    finally:
        stop(proc)
        log.close()


@contextlib.asynccontextmanager
async def http_client(url: str, token: str | None) -> AsyncIterator[Client]:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60.0) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client

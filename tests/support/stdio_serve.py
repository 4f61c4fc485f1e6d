"""``mopsgate serve`` as its own process, the way an MCP client starts it, for the tests whose
point is the process: killed with SIGKILL mid-apply, several replicas at once, what it listens
on, requests no SDK client would send.

One way to name the console script and its environment, the SDK client's parameters for it,
and one hand-written JSON-RPC client over its stdio (the SDK's client cannot leave a call
unanswered while the test kills the server, nor send a malformed request).

The servers of ``raw_stdio`` and ``forked_stdio`` are children of the worker's fork server
(``tests/support/cli_forks.py``): processes of their own (pid, memory, file locks, a SIGKILL
that ends them mid-write), reading and writing real pipes, that skip the interpreter start and
the imports (about a second of CPU each). ``stdio_params`` starts the console script itself, as
an MCP client does (``tests/server/test_transports.py`` keeps that start covered).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp import StdioServerParameters, types
from mcp.shared.message import SessionMessage

from mopsgate.server.settings import Settings
from tests.support.cli_forks import MOPSGATE as MOPSGATE  # the name other tests import here
from tests.support.cli_forks import Forked, cli_forks

ANSWER_S = 30  # a reply slower than this is a hung server, on a loaded machine too
LINE_LIMIT = 64 * 1024 * 1024  # one JSON-RPC message a line; a tools/list is over 64 kB


def mopsgate_env(settings: Settings, **extra: str) -> dict[str, str]:
    """What ``mopsgate`` sees at start: the manifest and the state directory of ``settings``,
    ``PATH`` and ``HOME``, and ``extra`` (nothing else of the test's environment)."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "MOPSGATE_MANIFEST": str(settings.manifest_path),
        "MOPSGATE_HOME": str(settings.home),
        **extra,
    }


def stdio_params(env: dict[str, str]) -> StdioServerParameters:
    """The SDK client's way to start ``mopsgate serve --transport stdio``."""
    return StdioServerParameters(command=MOPSGATE, args=["serve", "--transport", "stdio"], env=env)


SERVE_STDIO = ("serve", "--transport", "stdio")


class ForkedServer:
    """``mopsgate serve --transport stdio`` forked by the fork server, with what the tests use
    of an ``asyncio.subprocess.Process``: its pid, stream ends, ``wait()`` and ``returncode``."""

    def __init__(
        self,
        forked: Forked,
        stdin: asyncio.StreamWriter,
        stdout: asyncio.StreamReader,
        reading: asyncio.BaseTransport,
    ):
        self.forked = forked
        self.pid = forked.pid
        self.stdin = stdin
        self.stdout = stdout
        self.reading = reading  # closed by the test, not left to the garbage collector
        self.returncode: int | None = None

    @classmethod
    async def start(cls, env: dict[str, str], cwd: Path, log: Path | None) -> ForkedServer:
        """Fork it in ``cwd`` with only ``env``, its stderr in ``log`` (by default a file the
        fork server removes when the worker ends)."""
        forked = cli_forks().start(SERVE_STDIO, env, cwd, stdio=True, err=log)
        assert forked.stdin is not None and forked.stdout is not None
        loop = asyncio.get_running_loop()
        stdout = asyncio.StreamReader(limit=LINE_LIMIT)
        reading, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stdout), os.fdopen(forked.stdout, "rb", 0)
        )
        writing, protocol = await loop.connect_write_pipe(
            asyncio.streams.FlowControlMixin, os.fdopen(forked.stdin, "wb", 0)
        )
        stdin = asyncio.StreamWriter(writing, protocol, None, loop)
        return cls(forked, stdin, stdout, reading)

    async def wait(self) -> int:
        """Its exit status, once it has ended."""
        if self.returncode is None:
            self.returncode = await cli_forks().ended(self.forked)
        return self.returncode

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)


class RawStdio:
    """JSON-RPC over a ``mopsgate serve`` process's stdio, written by hand, so the test holds
    the process and can send a call without waiting for its answer, or send what is invalid."""

    def __init__(self, proc: ForkedServer) -> None:
        self.proc = proc
        self.next_id = 0

    async def send(
        self, method: str, params: dict[str, Any] | None = None, *, notify: bool = False
    ) -> int:
        self.next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        if not notify:
            message["id"] = self.next_id
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        await self.proc.stdin.drain()
        return self.next_id

    async def answer(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The whole reply to a request (a result or an error)."""
        sent = await self.send(method, params)
        assert self.proc.stdout is not None
        with anyio.fail_after(ANSWER_S):
            while True:
                line = await self.proc.stdout.readline()
                assert line, "the server closed stdout"
                reply: dict[str, Any] = json.loads(line)
                if reply.get("id") == sent:
                    return reply

    async def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The result of a request that must succeed."""
        reply = await self.answer(method, params)
        assert "error" not in reply, reply
        result: dict[str, Any] = reply["result"]
        return result

    async def open(self, client: str = "raw-stdio") -> dict[str, Any]:
        """The handshake; the server's answer to ``initialize``."""
        init = await self.request(
            "initialize",
            {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": client, "version": "1"},
            },
        )
        await self.send("notifications/initialized", {}, notify=True)
        return init

    async def tool(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        result = await self.request("tools/call", {"name": name, "arguments": args})
        assert not result.get("isError"), result
        out: dict[str, Any] = result["structuredContent"]
        return out


@asynccontextmanager
async def raw_stdio(
    env: dict[str, str], *, cwd: Path, log: Path, kill: bool = False
) -> AsyncIterator[RawStdio]:
    """``mopsgate serve --transport stdio`` forked in ``cwd`` with only ``env``, its stderr in
    ``log``. On leaving: ``kill`` sends SIGKILL (a crash: nothing runs after), otherwise stdin is
    closed and the server ends as it does when its client goes."""
    proc = await ForkedServer.start(env, cwd, log)
    try:
        yield RawStdio(proc)
    finally:
        await _stop(proc, kill=kill)


async def _stop(proc: ForkedServer, *, kill: bool) -> None:
    """SIGKILL the server, or close its stdin and let it end; wait for it, never leave it."""
    if kill:
        proc.kill()
    else:
        proc.stdin.close()
    try:
        with anyio.fail_after(ANSWER_S):
            await proc.wait()
    except TimeoutError:
        proc.kill()  # never leave a server behind the test
        await proc.wait()
        raise
    finally:
        proc.stdin.close()
        proc.reading.close()


@asynccontextmanager
async def forked_stdio(
    env: dict[str, str], *, cwd: Path | None = None, log: Path | None = None
) -> AsyncIterator[
    tuple[
        MemoryObjectReceiveStream[SessionMessage | Exception],
        MemoryObjectSendStream[SessionMessage],
    ]
]:
    """A transport for the SDK's ``Client``: ``Client(forked_stdio(env))`` talks to a forked
    ``mopsgate serve --transport stdio`` as ``Client(stdio_params(env))`` talks to the console
    script, one JSON-RPC message a line each way; leaving closes its stdin and waits for it to
    end. It runs in ``cwd`` (by default the parent of ``MOPSGATE_HOME``)."""
    proc = await ForkedServer.start(env, cwd or Path(env["MOPSGATE_HOME"]).parent, log)
    to_client, from_server = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    to_server, from_client = anyio.create_memory_object_stream[SessionMessage](0)

    async def read() -> None:
        async with to_client:
            while line := await proc.stdout.readline():
                try:
                    message = types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                except ValueError as exc:
                    await to_client.send(exc)
                    continue
                await to_client.send(SessionMessage(message))

    async def write() -> None:
        async with from_client:
            async for outgoing in from_client:
                data = outgoing.message.model_dump_json(by_alias=True, exclude_unset=True)
                proc.stdin.write(data.encode() + b"\n")
                await proc.stdin.drain()

    try:
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(read)
            tasks.start_soon(write)
            try:
                yield from_server, to_server
            finally:
                to_server.close()
                from_server.close()
                tasks.cancel_scope.cancel()
    finally:
        await _stop(proc, kill=False)

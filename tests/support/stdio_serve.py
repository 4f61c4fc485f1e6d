"""``mopsgate serve`` as its own process, the way an MCP client starts it, for the tests whose
point is the process: killed with SIGKILL mid-apply, several replicas at once, what it listens
on, requests no SDK client would send.

One way to name the console script and its environment, the SDK client's parameters for it,
and one hand-written JSON-RPC client over its stdio (the SDK's client cannot leave a call
unanswered while the test kills the server, nor send a malformed request).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import StdioServerParameters

from mopsgate.server.settings import Settings

MOPSGATE = str(Path(sys.executable).parent / "mopsgate")
ANSWER_S = 30  # a reply slower than this is a hung server, on a loaded machine too


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


class RawStdio:
    """JSON-RPC over a ``mopsgate serve`` process's stdio, written by hand, so the test holds
    the process and can send a call without waiting for its answer, or send what is invalid."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
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
    """``mopsgate serve --transport stdio`` started in ``cwd`` with only ``env``, its stderr in
    ``log``. On leaving: ``kill`` sends SIGKILL (a crash: nothing runs after), otherwise stdin is
    closed and the server ends as it does when its client goes."""
    with log.open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            MOPSGATE,
            "serve",
            "--transport",
            "stdio",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env=env,
            cwd=cwd,
        )
        try:
            yield RawStdio(proc)
        finally:
            if kill:
                os.kill(proc.pid, signal.SIGKILL)
            elif proc.stdin is not None:
                proc.stdin.close()
            try:
                with anyio.fail_after(ANSWER_S):
                    await proc.wait()
            except TimeoutError:
                proc.kill()  # never leave a server behind the test
                await proc.wait()
                raise

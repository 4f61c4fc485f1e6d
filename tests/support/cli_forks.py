"""``mopsgate`` commands as real, concurrent processes without an interpreter start each.

Some cases are about processes: a command waiting out another process's write lock beside a
dozen others, or a command run without root's file-mode override. Each ``mopsgate`` process
costs an interpreter start and the imports of the CLI (most of a second of CPU, on a machine
the whole suite shares), and a test that starts thirteen of them pays that thirteen times.

So a test asks a fork server instead: one ``python -m tests.support.cli_forks`` process per
test worker, started on first use, that
imports the CLI once and forks a child per command. The child is a process of its own (its own
pid, file descriptors, SQLite locks, environment, working directory and exit status) that runs
the console script's ``main`` with the command line it was given, its stdin on /dev/null and
its stdout and stderr in files, and leaves through the interpreter's normal exit (exit status,
uncaught tracebacks and ``atexit`` as for ``mopsgate`` itself). What it does not repeat is the
interpreter start and the imports: the console script's own start stays covered by the tests
that run ``mopsgate`` itself (``tests/server/test_transports.py``, ``test_first_run.py``,
``test_cli_progress.py``).

A command can also get pipes for its stdin and stdout instead of /dev/null and a file: a
``mopsgate serve --transport stdio`` its test talks to (``tests/support/stdio_serve.py``). The
test makes the pipes and hands the child's ends to the server over a Unix socket (SCM_RIGHTS);
the child reads and writes real pipes, as under an MCP client. And a test helper module can
be forked as ``python -m module`` would run it (``start_module``: ``tests/support/replica.py``).

Protocol (one JSON object a line): ``{"argv", "env", "cwd", "out", "err"}`` forks and answers
``{"pid"}`` (with ``"stdio": true`` the child's stdin and stdout are the two descriptors sent
just before on the socket; with ``"module"`` it runs that module instead of the console
script); ``{"wait": pid}`` answers ``{"status"}`` (the exit code, or minus the signal).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import copy
import ctypes
import gc
import itertools
import json
import os
import runpy
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MOPSGATE = str(Path(sys.executable).parent / "mopsgate")  # the console script
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, PR_CAPBSET_DROP = 1, 2, 24


def without_root_override() -> None:
    """Run the child as if it were not root: root ignores file modes, a user does not (a
    ``preexec_fn``: the bounding set applies from the next exec)."""
    if os.geteuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
            libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _lose_root_override_now() -> None:
    """:func:`without_root_override` for a forked child, which runs no exec: the two
    capabilities leave its effective, permitted and inheritable sets at once (capset), and its
    bounding set, so nothing it execs gets them back either."""
    without_root_override()
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3: two 32-bit words
    data = (_CapData * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget failed")
    keep = ~((1 << CAP_DAC_OVERRIDE) | (1 << CAP_DAC_READ_SEARCH)) & 0xFFFFFFFF
    for name in ("effective", "permitted", "inheritable"):
        setattr(data[0], name, getattr(data[0], name) & keep)
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


@dataclass(frozen=True)
class Forked:
    """A command running in a child of the fork server (``stdin``/``stdout``: the test's ends
    of its pipes, for a command started with ``stdio``)."""

    args: tuple[str, ...]
    pid: int
    out: Path
    err: Path
    stdin: int | None = None
    stdout: int | None = None


class CliForks:
    """The test's side: start commands, wait for them, read what they printed. ``as_user``:
    the commands run without root's file-mode override (:meth:`as_a_user`)."""

    def __init__(self) -> None:
        self.as_user = False
        self.outputs = Path(tempfile.mkdtemp(prefix="cli-forks-"))
        self.counter = itertools.count(1)  # shared with the as_a_user view: one name each
        self.fds, theirs = socket.socketpair()  # for the pipes of stdio commands
        with theirs:
            self.server = subprocess.Popen(
                [sys.executable, "-m", "tests.support.cli_forks", str(theirs.fileno())],
                cwd=ROOT,
                env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                pass_fds=(theirs.fileno(),),
            )
        self.lock = threading.Lock()  # one request and its answer at a time, whoever asks

    def _ask(
        self, message: dict[str, Any], timeout: float | None = None, fds: Sequence[int] = ()
    ) -> dict[str, Any]:
        """Send one request (and ``fds`` before it) and read its answer; ``{}`` if none came
        within ``timeout`` (then the answer is still owed, and the caller must read it before
        asking anything else)."""
        with self.lock:
            return self._exchange(message, timeout, fds)

    def _exchange(
        self, message: dict[str, Any], timeout: float | None = None, fds: Sequence[int] = ()
    ) -> dict[str, Any]:
        """:meth:`_ask` for a caller holding the lock."""
        assert self.server.stdin is not None
        if fds:
            socket.send_fds(self.fds, [b"."], list(fds))
        self.server.stdin.write(json.dumps(message) + "\n")
        self.server.stdin.flush()
        return self._answer(timeout)

    def _answer(self, timeout: float | None = None) -> dict[str, Any]:
        assert self.server.stdout is not None
        ready, _, _ = select.select([self.server.stdout], [], [], timeout)
        if not ready:
            return {}
        line = self.server.stdout.readline()
        assert line, f"the fork server ended (exit {self.server.poll()})"
        answer: dict[str, Any] = json.loads(line)
        return answer

    def start(
        self,
        args: Sequence[str],
        env: Mapping[str, str],
        cwd: Path | None = None,
        *,
        stdio: bool = False,
        err: Path | None = None,
    ) -> Forked:
        """Fork ``mopsgate *args``. ``stdio``: its stdin and stdout are pipes whose other ends
        the returned ``Forked`` holds (the caller closes them); ``err``: where its stderr goes
        (kept by the caller), instead of a file :meth:`wait` reads and removes."""
        count = next(self.counter)
        out = self.outputs / f"{count}.out"
        err = err or self.outputs / f"{count}.err"
        request = {
            "as_user": self.as_user,
            "argv": [MOPSGATE, *args],
            "env": dict(env),
            "cwd": str(cwd or Path.cwd()),
            "out": str(out),
            "err": str(err),
        }
        if not stdio:
            pid = int(self._ask(request)["pid"])  # the first waits for the server's imports
            return Forked(tuple(args), pid, out, err)
        child_in, test_in = os.pipe()
        test_out, child_out = os.pipe()
        try:
            pid = int(self._ask({**request, "stdio": True}, fds=(child_in, child_out))["pid"])
        except BaseException:
            os.close(test_in)
            os.close(test_out)
            raise
        finally:
            os.close(child_in)
            os.close(child_out)
        return Forked(tuple(args), pid, out, err, stdin=test_in, stdout=test_out)

    def start_module(
        self, module: str, args: Sequence[str], env: Mapping[str, str], cwd: Path = ROOT
    ) -> Forked:
        """Fork ``python -m module *args`` (a test helper of its own process: imported here
        once, not at each start); :meth:`wait` or :meth:`finished` collects it."""
        count = next(self.counter)
        out, err = (self.outputs / f"{count}.{name}" for name in ("out", "err"))
        request = {
            "as_user": self.as_user,
            "module": module,
            "argv": [module, *args],
            "env": dict(env),
            "cwd": str(cwd),
            "out": str(out),
            "err": str(err),
        }
        return Forked((module, *args), int(self._ask(request)["pid"]), out, err)

    def running(self, forked: Forked) -> bool:
        """Whether the command is still running (never waits; :meth:`wait` still collects it)."""
        pidfd = os.pidfd_open(forked.pid)  # its parent, the fork server, has not reaped it yet
        try:
            ended, _, _ = select.select([pidfd], [], [], 0)
        finally:
            os.close(pidfd)
        return not ended

    async def ended(self, forked: Forked) -> int:
        """:meth:`status`, awaited without blocking the event loop: a pidfd says when the
        child has ended (the fork server, its parent, then answers at once)."""
        pidfd = os.pidfd_open(forked.pid)
        ready = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_reader(pidfd, ready.set)
        try:
            await ready.wait()
        finally:
            loop.remove_reader(pidfd)
            os.close(pidfd)
        return self.status(forked)

    async def finished(self, forked: Forked) -> subprocess.CompletedProcess[str]:
        """:meth:`wait`, awaited without blocking the event loop."""
        status = await self.ended(forked)
        return self._collect(forked, status)

    def status(self, forked: Forked, timeout: float = 60) -> int:
        """Wait for the command to end: its exit code, or minus the signal that ended it."""
        with self.lock:
            answer = self._exchange({"wait": forked.pid}, timeout)
            if not answer:  # hung: end it, then collect it, and fail the test that waited
                os.kill(forked.pid, signal.SIGKILL)
                self._answer()
                raise subprocess.TimeoutExpired(list(forked.args), timeout)
        return int(answer["status"])

    def wait(self, forked: Forked, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self._collect(forked, self.status(forked, timeout))

    def _collect(self, forked: Forked, status: int) -> subprocess.CompletedProcess[str]:
        out, err = forked.out.read_text("utf-8"), forked.err.read_text("utf-8")
        forked.out.unlink()
        forked.err.unlink()
        return subprocess.CompletedProcess(list(forked.args), status, out, err)

    def run(
        self, args: Sequence[str], env: Mapping[str, str], cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return self.wait(self.start(args, env, cwd))

    def close(self) -> None:
        assert self.server.stdin is not None and self.server.stdout is not None
        self.server.stdin.close()
        self.server.wait(30)
        self.server.stdout.close()
        self.fds.close()
        with contextlib.suppress(OSError):
            for leftover in self.outputs.iterdir():
                leftover.unlink()
            self.outputs.rmdir()

    def as_a_user(self) -> CliForks:
        """The same fork server, its children started without root's file-mode override
        (a user's process: file modes apply to it)."""
        view = copy.copy(self)  # the same process, pipes, lock and output names
        view.as_user = True
        return view


_SERVERS: dict[bool, CliForks] = {}


def cli_forks(*, as_user: bool = False) -> CliForks:
    """This worker's fork server, started on first use and stopped when the worker exits
    (``as_user``: its children lack root's file-mode override)."""
    if False not in _SERVERS:
        server = CliForks()
        _SERVERS[False] = server
        _SERVERS[True] = server.as_a_user()
        atexit.register(server.close)
    return _SERVERS[as_user]


def _child(request: dict[str, Any], pipes: list[int]) -> None:
    """In the forked child: become the command's process, then run the console script
    (``pipes``: its stdin and stdout, if the test sent them)."""
    if request.get("as_user"):
        _lose_root_override_now()
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    if pipes:
        stdin, out = pipes
    else:
        stdin = os.open(os.devnull, os.O_RDONLY)
        out = os.open(request["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    err = os.open(request["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    for fd, target in ((stdin, 0), (out, 1), (err, 2)):
        os.dup2(fd, target)
        os.close(fd)
    # New text streams: the server's own may hold protocol lines read ahead or unwritten.
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(  # noqa: SIM115
        2, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False
    )
    sys.argv = list(request["argv"])
    if "module" in request:  # as ``python -m module``
        runpy.run_module(request["module"], run_name="__main__", alter_sys=True)
    else:
        from mopsgate.server.cli import main

        main()
    sys.exit(0)  # as the console script does: the interpreter's normal exit follows


def _serve(channel: socket.socket) -> None:
    """The fork server's loop: the CLI imported once, one child per command. Also imported:
    what ``mopsgate serve`` imports only once it serves (the runtime, its tools, the PostgreSQL
    storage), about half a second of CPU that every forked server would otherwise repeat."""
    import mopsgate.server.app
    import mopsgate.server.cli_app
    import mopsgate.server.cli_serve
    import mopsgate.server.serve_argv
    import mopsgate.storage.postgres.backend
    import mopsgate.tools.registry  # noqa: F401

    for line in sys.stdin:
        request = json.loads(line)
        if "wait" in request:
            _, status = os.waitpid(request["wait"], 0)
            print(json.dumps({"status": os.waitstatus_to_exitcode(status)}), flush=True)
            continue
        pipes = socket.recv_fds(channel, 1, 2)[1] if request.get("stdio") else []
        # The imported heap out of the cyclic GC's reach: a child's collections (and its exit)
        # would otherwise walk, and copy on write, all of it, most of a forked command's CPU.
        gc.freeze()
        pid = os.fork()
        if pid == 0:
            channel.close()
            _child(request, pipes)  # never returns: the child leaves through SystemExit
        for fd in pipes:  # the child's now: a copy left here would hide its end of the pipe
            os.close(fd)
        print(json.dumps({"pid": pid}), flush=True)


if __name__ == "__main__":
    _serve(socket.socket(fileno=int(sys.argv[1])))

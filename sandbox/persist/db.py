"""The one way the persistent sandbox uses SQLite: one connection, owned by one thread.

The same discipline as ``storage/sqlite/db.py`` (which the sandbox may not import: the layer
rules keep it and ``storage`` independent): the connection is made on its own thread with
``check_same_thread`` on, every unit of work runs there inside ``BEGIN IMMEDIATE … COMMIT`` (a
write) or ``BEGIN … COMMIT`` (a read, one snapshot), so nothing touches the file on an event
loop and two processes sharing the file never interleave inside a request.

Two entries, because the emulators' state interfaces are synchronous:

* ``await db.unit(fn, write=...)`` — from an event loop: one hop per emulator request;
* ``db.call(fn, write=...)`` — from any other thread (a test reading an emulator's state, the
  ``mopsgate sandbox`` commands): blocks that thread, never the connection's.

Code already on the connection's thread (inside a unit) runs directly; ``confined`` puts that
choice in front of every public method of a state class, so the same object serves both.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sqlite3
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
C = TypeVar("C", bound=type)
BUSY_TIMEOUT_MS = 10_000


class SandboxDb:
    """One SQLite file on one dedicated thread; ``prepare`` runs once, on that thread, right
    after the connection is made (schema, first seeding)."""

    def __init__(
        self,
        path: str | Path,
        prepare: Callable[[sqlite3.Connection], None] | None = None,
        *,
        wal: bool = True,
    ) -> None:
        self.path = Path(path)
        self._prepare = prepare
        self._wal = wal
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mopsgate-sandbox")
        self._thread: int | None = None
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    # entries --------------------------------------------------------------------------------
    async def unit(self, fn: Callable[[], T], *, write: bool) -> T:
        """Run ``fn`` in a transaction on the connection's thread, awaited from a loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._in_transaction, fn, write)

    def call(self, fn: Callable[[], T], *, write: bool = True) -> T:
        """Run ``fn`` in a transaction on the connection's thread and wait for it (directly
        when already there)."""
        if self.on_thread():
            return fn()
        return self._executor.submit(self._in_transaction, fn, write).result()

    def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on the connection's thread outside any transaction (a unit that needs
        ATTACH, which SQLite refuses inside one, and manages its own)."""
        if self.on_thread():
            return fn(self._open())
        return self._executor.submit(lambda: fn(self._open())).result()

    def on_thread(self) -> bool:
        return threading.get_ident() == self._thread

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection, for code running on its thread (state methods, inside a unit)."""
        if self._conn is None or not self.on_thread():
            raise RuntimeError("the sandbox connection is used only on its own thread")
        return self._conn

    def close(self) -> None:
        """Close the connection on its thread, then end the thread."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(RuntimeError):
            self._executor.submit(self._close_conn).result()
        self._executor.shutdown(wait=True)

    async def aclose(self) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    # on the connection's thread -------------------------------------------------------------
    def _in_transaction(self, fn: Callable[[], T], write: bool) -> T:
        conn = self._open()
        if conn.in_transaction:  # a unit inside a unit: it joins the outer one
            return fn()
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            result = fn()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):  # the original error is the one to report
                    conn.execute("ROLLBACK")
            raise
        return result

    def _open(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        self._thread = threading.get_ident()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect(self.path, wal=self._wal)
        try:
            if self._prepare is not None:
                self._conn = conn
                self._prepare(conn)
        except BaseException:
            self._conn = None
            conn.close()
            raise
        self._conn = conn
        return conn

    def _close_conn(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def connect(path: str | Path, *, wal: bool = True) -> sqlite3.Connection:
    """Autocommit mode (transactions are ours), WAL so readers never wait for a writer (a
    template, written once and then only copied, keeps a plain journal), a busy timeout so a
    writer waits for another process's write instead of failing."""
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        _journal(conn, "WAL" if wal else "DELETE")
        conn.execute("PRAGMA synchronous=NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def _journal(conn: sqlite3.Connection, mode: str) -> None:
    """Set the journal mode, waiting out another process that holds the file: SQLite answers
    this pragma "database is locked" at once instead of calling its busy handler, so two
    processes opening a fresh sandbox together made one of them fail."""
    give_up = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute(f"PRAGMA journal_mode={mode}")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= give_up:
                raise
            time.sleep(0.005)
        else:
            return


def drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits on I/O to its end, synchronously.

    Emulator handlers are coroutines only because Starlette's request API is; once the request
    body has been read, they never wait on anything. Driving one on the connection's thread
    keeps every state call of a request inside that request's transaction.
    """
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("a sandbox handler waited on I/O inside a store transaction")


def confined(cls: C) -> C:
    """Route every public method of a state class through ``self.db.call``: direct on the
    connection's thread, a blocking hop (in its own transaction) from anywhere else."""
    for name, member in list(vars(cls).items()):
        if name.startswith("_") or not callable(member):
            continue
        setattr(cls, name, _hop(member))
    return cls


def _hop(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> T:
        db: SandboxDb = self.db
        if db.on_thread():
            return method(self, *args, **kwargs)
        return db.call(lambda: method(self, *args, **kwargs))

    return wrapper

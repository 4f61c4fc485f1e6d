"""The one way mopsgate uses SQLite: one connection, owned by one thread, one hop per unit.

A *unit* is a plain function of a ``sqlite3.Connection`` that does a whole piece of work (a
claim, a batch of audit rows, a point read). :meth:`SqliteDb.write` runs it on the connection's
own thread inside ``BEGIN IMMEDIATE … COMMIT`` (rolled back if it raises), :meth:`SqliteDb.read`
inside ``BEGIN … COMMIT`` (one consistent snapshot): one event-loop round trip per unit rather
than one per statement, and never a statement on the event loop. The connection is created on
its thread with ``check_same_thread`` on, so sqlite3 itself refuses any use from elsewhere; the
single thread also serialises the units, so no lock is needed around them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal, TypeVar
from urllib.parse import quote

from mopsgate.storage.errors import StorageUnavailable
from mopsgate.storage.sqlite.diagnose import diagnose

log = logging.getLogger("mopsgate.storage")
T = TypeVar("T")
Unit = Callable[[sqlite3.Connection], T]
Synchronous = Literal["FULL", "NORMAL"]
BUSY_TIMEOUT_MS = 5000


def unavailable(path: str | Path, exc: BaseException) -> StorageUnavailable:
    details = {"path": str(path), "cause": f"{type(exc).__name__}: {exc}"}
    named = diagnose(path, exc)
    if named is not None:  # locked, read-only, full, damaged: say which, and what to do
        return StorageUnavailable(named[0], hint=named[1], details=details)
    return StorageUnavailable(
        f"the database at {path} could not be used ({type(exc).__name__}: {exc})",
        hint=f"Check that {path} and its directory exist and are writable, that the disk is not "
        "full and that no other process holds a long write lock on it, then retry.",
        details=details,
    )


def readonly_uri(path: str | Path, *, immutable: bool = False) -> str:
    """mode=ro: a reader can never write, nor create an empty file where a log was expected.
    immutable=1 (only for a file that cannot change and has no write-ahead log to merge, see
    ``readonly.py``): no locks and no -shm, so it reads from media nobody may write."""
    return f"file:{quote(str(Path(path).resolve()))}?mode=ro" + (
        "&immutable=1" if immutable else ""
    )


def _connect(
    path: str,
    readonly: bool,
    query_only: bool,
    synchronous: Synchronous,
    busy_timeout_ms: int,
    immutable: bool,
) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(
            readonly_uri(path, immutable=immutable), uri=True, isolation_level=None
        )
    else:
        conn = sqlite3.connect(path, isolation_level=None, timeout=busy_timeout_ms / 1000)
    try:
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        if not readonly:
            _wal(conn, busy_timeout_ms)
            conn.execute(f"PRAGMA synchronous={synchronous}")
        if query_only:
            conn.execute("PRAGMA query_only=ON")
    except BaseException:
        conn.close()
        raise
    return conn


def _wal(conn: sqlite3.Connection, busy_timeout_ms: int) -> None:
    """``PRAGMA journal_mode=WAL``, retried for up to the busy timeout while another process
    holds the file. SQLite answers that pragma "database is locked" at once, without its busy
    handler, so two processes opening a new state directory together (a client starting two
    stdio servers, a server and a command) made one of them refuse to start."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
        time.sleep(0.005)


def _in_transaction(conn: sqlite3.Connection, begin: str, unit: Unit[T]) -> T:
    conn.execute(begin)
    try:
        result = unit(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # the original error is the one to report
                conn.execute("ROLLBACK")
        raise
    return result


Job = Callable[[], None]


class _Thread:
    """The connection's own thread: runs the jobs handed to it in order, one at a time. Each
    job answers its caller itself (``call_soon_threadsafe``), as its last step: no future per
    job and no bookkeeping after it, so the thread that has just woken the event loop is back
    waiting for work (without the interpreter lock) by the time the loop runs, where a
    one-worker ``ThreadPoolExecutor`` still settled its future and released its semaphore and
    made the loop wait for the lock (8 µs per round trip hot, 50 µs after 100 ms idle here)."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._stopping = False
        # A daemon: a process that exits without closing its database is not held up by it.
        self._thread = threading.Thread(target=_serve, args=(self._jobs,), name=name, daemon=True)
        self._thread.start()

    def post(self, job: Job) -> None:
        if self._stopping:
            raise RuntimeError("the connection's thread has stopped")
        self._jobs.put(job)

    def stop(self) -> None:
        """Run the jobs already handed in, then end the thread, and wait for it."""
        if not self._stopping:
            self._stopping = True
            self._jobs.put(None)
        self._thread.join()


def _serve(jobs: queue.SimpleQueue[Job | None]) -> None:
    while (job := jobs.get()) is not None:
        try:
            job()
        except BaseException:  # a job answers its own failures; this one could not
            log.exception("a database job failed without answering its caller")


def _settle(future: asyncio.Future[T], outcome: T | BaseException) -> None:
    if future.done():  # its caller was cancelled meanwhile
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class SqliteDb:
    """One connection on one dedicated thread. Use :meth:`open`, then :meth:`write`,
    :meth:`read` or :meth:`call`, then :meth:`close`."""

    def __init__(self, path: str, name: str, thread: _Thread) -> None:
        self.path = path
        self.name = name
        self._thread = thread
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        name: str,
        synchronous: Synchronous = "FULL",
        readonly: bool = False,
        query_only: bool = False,
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        immutable: bool = False,
    ) -> SqliteDb:
        """Connect on a new thread named ``mopsgate-db-<name>``; WAL and ``synchronous`` are
        set once here (a ``readonly`` file connection sets neither: it cannot). ``query_only``
        opens the file normally but refuses every write (a reader beside live writers)."""
        thread = _Thread(f"mopsgate-db-{name}")
        db = cls(str(path), name, thread)
        try:
            db._conn = await db._hop(
                lambda: _connect(
                    str(path), readonly, query_only, synchronous, busy_timeout_ms, immutable
                )
            )
        except BaseException:
            db._closed = True
            thread.stop()
            raise
        return db

    async def write(self, unit: Unit[T]) -> T:
        """Run ``unit`` in ``BEGIN IMMEDIATE … COMMIT``: it holds the write lock from the
        first statement, so a read-then-write inside it is a compare-and-set no other
        connection (or process) can interleave with."""
        conn = self._require()
        return await self._hop(lambda: _in_transaction(conn, "BEGIN IMMEDIATE", unit))

    def submit(self, unit: Unit[T], done: Callable[[T | BaseException], object]) -> None:
        """:meth:`write` without the awaited future: ``unit`` runs the same way, in ``BEGIN
        IMMEDIATE … COMMIT`` on the connection's thread, and ``done`` is called there with its
        result or the exception it raised (``sqlite3.Error`` as raised). For a caller that
        wakes the event loop itself, once per unit: the audit writer, whose every row waits
        for it. Raises StorageUnavailable when the connection is closed."""
        conn = self._require()

        def job() -> None:
            try:
                result = _in_transaction(conn, "BEGIN IMMEDIATE", unit)
            except BaseException as exc:
                done(exc)
                return
            done(result)

        self._post(job)

    def started(self, unit: Unit[T], *, snapshot: bool = True) -> asyncio.Future[T]:
        """:meth:`read` (or, without ``snapshot``, :meth:`call`: a single statement is its own
        snapshot) handed to the connection's thread before this returns: the caller goes on
        while the unit runs, and awaits the future when it needs the answer. The thread wakes
        the loop once with the outcome (an ``sqlite3.Error`` as StorageUnavailable), as
        :meth:`submit` does. Raises StorageUnavailable when the connection is closed."""
        conn = self._require()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def job() -> None:
            try:
                result = _in_transaction(conn, "BEGIN", unit) if snapshot else unit(conn)
            except sqlite3.Error as exc:
                loop.call_soon_threadsafe(_settle, future, unavailable(self.path, exc))
            except BaseException as exc:
                loop.call_soon_threadsafe(_settle, future, exc)
            else:
                loop.call_soon_threadsafe(_settle, future, result)

        self._post(job)
        return future

    async def read(self, unit: Unit[T]) -> T:
        """Run ``unit`` in ``BEGIN … COMMIT``: every statement sees one snapshot."""
        conn = self._require()
        return await self._hop(lambda: _in_transaction(conn, "BEGIN", unit))

    async def call(self, unit: Unit[T]) -> T:
        """Run ``unit`` outside any transaction (PRAGMAs, or a unit managing its own)."""
        conn = self._require()
        return await self._hop(lambda: unit(conn))

    async def close(self) -> None:
        """Close the connection on its thread, then end the thread (joined, so a process that
        forks next has no thread of ours left)."""
        if self._closed:
            return
        self._closed = True
        conn, self._conn = self._conn, None
        try:
            if conn is not None:
                await self._hop(conn.close)
        finally:
            self._thread.stop()

    def _require(self) -> sqlite3.Connection:
        if self._closed or self._conn is None:
            raise unavailable(self.path, RuntimeError(f"the {self.name} connection is closed"))
        return self._conn

    def _post(self, job: Job) -> None:
        try:
            self._thread.post(job)
        except RuntimeError as exc:  # the thread was stopped under us
            raise unavailable(self.path, exc) from exc

    async def _hop(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def job() -> None:
            if future.cancelled():  # its caller gave up before it started: not run
                return
            try:
                result = fn()
            except BaseException as exc:
                loop.call_soon_threadsafe(_settle, future, exc)
            else:
                loop.call_soon_threadsafe(_settle, future, result)

        self._post(job)
        try:
            return await future
        except sqlite3.Error as exc:
            raise unavailable(self.path, exc) from exc

"""The persistent sandbox: one SQLite file (``<MOPSGATE_HOME>/sandbox.db``, apart from
mopsgate's own database) holding the three emulators' state, shared by every process that
serves the sandbox — each stdio server, the HTTP server, ``mopsgate sandbox serve``.

First use seeds it: the seeded data for a (seed, people) pair is built once into a template
file (``sandbox-templates/``, one transaction) and copied into the sandbox with
``INSERT … SELECT`` inside one write transaction, so a second process arriving at the same time
finds it seeded and waits rather than seeding twice. ``reset`` does the same in place (a
running server sees the fresh data at its next request); ``status`` compares the file with its
template.

Each emulator request is one transaction on the store's thread (``SandboxStore.__call__`` is
the gate's runner): nothing touches the file on an event loop, and a write in one process is
never interleaved with another's.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from mopsgate.sandbox.persist.db import SandboxDb, drive
from mopsgate.sandbox.seed import N_PEOPLE, SEED, seed_data

T = TypeVar("T")
FORMAT = "2"  # bump when a table changes: an older file is then refused until reset
VENDORS = ("marketo", "hubspot", "salesforce")
_STATE = {
    "marketo": ("mopsgate.sandbox.marketo.sqlite_state", "SqliteInstance"),
    "hubspot": ("mopsgate.sandbox.hubspot.sqlite_state", "SqlitePortal"),
    "salesforce": ("mopsgate.sandbox.salesforce.sqlite_state", "SqliteOrg"),
}
_SEEDERS = {v: f"mopsgate.sandbox.{v}.seed" for v in VENDORS}
META = "CREATE TABLE sandbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


class SandboxFileError(RuntimeError):
    """The sandbox file cannot be used as it is; the message says what to run."""


@dataclass(frozen=True)
class Seeding:
    seed: int
    people: int
    seeded_at: str


def vendor_module(vendor: str) -> Any:
    return importlib.import_module(_STATE[vendor][0])


def schema() -> list[str]:
    return [META, *(s for v in VENDORS for s in vendor_module(v).SCHEMA)]


def tables() -> dict[str, dict[str, tuple[tuple[str, ...], str]]]:
    """vendor -> table -> (key columns, what a row is)."""
    return {v: dict(vendor_module(v).TABLES) for v in VENDORS}


def _schema_tables() -> list[str]:
    names = []
    for statement in schema():
        words = statement.split()
        if words[:2] == ["CREATE", "TABLE"]:
            names.append(words[2])
    return names


def new_state(vendor: str, db: SandboxDb, now: Callable[[], datetime] | None = None) -> Any:
    module, cls = _STATE[vendor]
    state_cls = getattr(importlib.import_module(module), cls)
    if vendor == "salesforce":
        return state_cls(db, now or (lambda: datetime.now(UTC)))
    return state_cls(db)


class SandboxStore:
    """The sandbox file of one state directory. Cheap to make: nothing is opened until the
    first request (or ``reset`` / ``status``) runs on the store's thread."""

    def __init__(
        self,
        path: str | Path,
        *,
        seed: int = SEED,
        people: int = N_PEOPLE,
        templates: str | Path | None = None,
    ) -> None:
        self.path = Path(path)
        self.templates = Path(templates) if templates else self.path.parent / "sandbox-templates"
        self._first = (seed, people)
        self._replacing = False  # a reset rebuilds every table: nothing to check before
        self.db = SandboxDb(self.path, self._prepare)

    def state(self, vendor: str, now: Callable[[], datetime] | None = None) -> Any:
        """The vendor's state interface over this file."""
        return new_state(vendor, self.db, now)

    async def __call__(
        self, request: Request, run: Callable[[], Any], write: bool
    ) -> tuple[Response, bool]:
        """The gate's runner: read the body first (so nothing inside waits on the client),
        then the whole handler as one transaction on the store's thread."""
        await request.body()
        result: tuple[Response, bool] = await self.db.unit(lambda: drive(run()), write=write)
        return result

    # seeding --------------------------------------------------------------------------------
    def _prepare(self, conn: sqlite3.Connection) -> None:
        """On the store's thread, once per process: create the tables of a new file, refuse
        one from another format, seed one that is empty."""
        if self._replacing:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            if not _has_table(conn, "sandbox_meta"):
                for statement in schema():
                    conn.execute(statement)
                conn.execute("INSERT INTO sandbox_meta VALUES ('format', ?)", (FORMAT,))
            found = _meta(conn).get("format")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if found != FORMAT:
            raise SandboxFileError(
                f"the sandbox file {self.path} was written by another version of mopsgate "
                f"(format {found}, this one reads {FORMAT}); run 'mopsgate sandbox reset' "
                "to start it afresh from the seed"
            )
        if "seed" not in _meta(conn):
            self._fill(conn, *self._first, only_if_empty=True)

    def _fill(
        self, conn: sqlite3.Connection, seed: int, people: int, *, only_if_empty: bool
    ) -> None:
        """Copy the template for (seed, people) into the file in one write transaction (the
        tables are dropped and made afresh, so a reset also repairs a changed format)."""
        template = self.template(seed, people)
        conn.execute("ATTACH DATABASE ? AS tpl", (str(template),))
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if not (only_if_empty and "seed" in _meta(conn)):
                    for table in _schema_tables():
                        conn.execute(f"DROP TABLE IF EXISTS main.{table}")
                    for statement in schema():
                        conn.execute(statement)
                    for table in _schema_tables():
                        conn.execute(f"INSERT INTO main.{table} SELECT * FROM tpl.{table}")  # noqa: S608
                    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
                    conn.executemany(
                        "INSERT OR REPLACE INTO sandbox_meta VALUES (?, ?)",
                        [
                            ("format", FORMAT),
                            ("seed", str(seed)),
                            ("people", str(people)),
                            ("seeded_at", stamp),
                        ],
                    )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            conn.execute("DETACH DATABASE tpl")

    def template(self, seed: int, people: int) -> Path:
        """The seeded file for (seed, people), built on first need (into a temporary file,
        then renamed, so a reader never sees half of one)."""
        path = self.templates / f"seed-{seed}-people-{people}-format-{FORMAT}.db"
        if path.exists():
            return path
        self.templates.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        build = SandboxDb(tmp, _create_schema, wal=False)
        try:
            build.call(lambda: _load_seed(build, seed, people))
        finally:
            build.close()
        os.replace(tmp, path)
        return path

    # commands -------------------------------------------------------------------------------
    def reset(self, seed: int = SEED, people: int = N_PEOPLE) -> Seeding:
        """Restore the seeded data (for ``seed`` and ``people``) in place, whatever the file
        held (another format included)."""
        self._replacing = True
        try:
            self._run(lambda conn: self._fill(conn, seed, people, only_if_empty=False))
        finally:
            self._replacing = False
        return self.seeding()

    def seeding(self) -> Seeding:
        meta = self._run(_meta)
        return Seeding(int(meta["seed"]), int(meta["people"]), meta.get("seeded_at", "?"))

    def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A command's unit; a file SQLite cannot use is a ``SandboxFileError`` saying so."""
        try:
            return self.db.run(fn)
        except sqlite3.Error as exc:
            raise SandboxFileError(f"SQLite says: {exc}") from exc

    def compare(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``fn`` with the template of the file's seed attached as ``tpl``, in one read
        transaction (a snapshot of the file)."""
        seeding = self.seeding()
        template = self.template(seeding.seed, seeding.people)

        def unit(conn: sqlite3.Connection) -> Any:
            conn.execute("ATTACH DATABASE ? AS tpl", (str(template),))
            try:
                conn.execute("BEGIN")
                try:
                    return fn(conn)
                finally:
                    conn.execute("COMMIT")
            finally:
                conn.execute("DETACH DATABASE tpl")

        return self._run(unit)

    def close(self) -> None:
        self.db.close()

    async def aclose(self) -> None:
        await self.db.aclose()


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    return row.fetchone() is not None


def _meta(conn: sqlite3.Connection) -> dict[str, str]:
    if not _has_table(conn, "sandbox_meta"):
        return {}
    return {k: v for k, v in conn.execute("SELECT key, value FROM sandbox_meta")}


def _create_schema(conn: sqlite3.Connection) -> None:
    """A template's tables, in one transaction (one sync to disk, not one per table)."""
    conn.execute("BEGIN")
    for statement in schema():
        conn.execute(statement)
    conn.execute("COMMIT")


def _load_seed(db: SandboxDb, seed: int, people: int) -> None:
    data = seed_data(people, seed)
    for vendor in VENDORS:
        load = importlib.import_module(_SEEDERS[vendor]).load
        load(new_state(vendor, db), data)

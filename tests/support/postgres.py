"""A throwaway PostgreSQL server for the tests (see shared/reference/postgres-throwaway.md).

One server per test session (per xdist worker), in a temporary directory, on a free loopback
port, started as the unprivileged ``postgres`` user when the tests run as root (``initdb`` and
the server refuse root). Tests share one database per session that ``mopsgate db upgrade``
brought to HEAD, emptied before each test back to the rows the migrations left (``reset``: a
TRUNCATE is ~10 times quicker than creating a database); a test that changes the schema
itself takes a database of its own (``create_database``). The server runs with
``fsync=off``: a test cluster that dies with the machine is thrown away anyway, and the tests
that stop it (``pg_ctl -m immediate``) stop the server, not the kernel, so nothing committed is
lost.

Without the server binaries (or the ``postgres`` user) these tests skip, saying what to
install; with ``MOPSGATE_REQUIRE_POSTGRES=1`` (set by ``.ci/run``) they fail instead, so CI can
never pass by skipping them.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg

from mopsgate.server.settings import Settings

INSTALL = (
    "install the PostgreSQL server (Debian: `apt-get install postgresql`; initdb and pg_ctl "
    "are then in /usr/lib/postgresql/<version>/bin)"
)
_names = itertools.count(1)


def find_bin(name: str) -> str | None:
    """On PATH, else where Debian puts the server binaries (not on PATH by default)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def missing() -> str | None:
    """Why no server can be started here, or None."""
    for name in ("initdb", "pg_ctl"):
        if find_bin(name) is None:
            return f"PostgreSQL tests need `{name}`: {INSTALL}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return (
                "PostgreSQL tests run the server as the `postgres` user (initdb refuses root), "
                f"and there is none: {INSTALL}, which creates it"
            )
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    """A running throwaway cluster: ``url(db)``, ``create_database()``, ``stop()``/``start()``
    (to play a database that goes away), ``close()``."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mopsgate-pg-"))
        self.root.chmod(0o755)  # the postgres user must reach its directory below
        self.dir = self.root / "pg"
        self.dir.mkdir()
        self.data = self.dir / "data"
        self.log = self.dir / "log"
        self.port = free_port()
        self.shared = ""  # a database at schema HEAD, set up by the session fixture
        self._seed: dict[str, list[tuple[object, ...]]] = {}
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.dir, "postgres")
        self._run(find_bin("initdb"), "-D", self.data, "-A", "trust", "-U", "postgres", "-N")
        self.start()

    def _run(self, *args: object) -> None:
        cmd = [str(a) for a in args]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, stdin=subprocess.DEVNULL)

    def _pg_ctl(self, *args: object) -> None:
        self._run(find_bin("pg_ctl"), "-D", self.data, *args)

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        self._pg_ctl("-l", self.log, "-w", "-o", options, "start")

    def stop(self, mode: str = "immediate") -> None:
        """``immediate``: the server stops at once, as if it crashed (clients see their
        connections drop)."""
        self._pg_ctl("-m", mode, "-w", "stop")

    def ensure_running(self) -> None:
        """Start the server again if a test stopped it and failed before starting it."""
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            self.start()

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def execute(self, sql: str, dbname: str = "postgres") -> None:
        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            conn.execute(sql.encode())

    def create_database(self, template: str | None = None) -> str:
        name = f"t_{os.getpid()}_{next(_names)}"
        clause = f" TEMPLATE {template}" if template else ""
        self.execute(f"CREATE DATABASE {name}{clause}")
        return name

    def remember_seed(self, dbname: str) -> None:
        """Note every table of ``dbname`` and the rows the migrations put in them (the audit
        head, the token epoch, the freeze row), for :meth:`reset`."""
        with psycopg.connect(self.url(dbname)) as conn:
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                    "AND tablename <> 'schema_version' ORDER BY tablename"
                )
            ]
            self._seed = {
                t: conn.execute(f"SELECT * FROM {t}".encode()).fetchall()  # noqa: S608
                for t in tables
            }

    def reset(self, dbname: str) -> None:
        """Empty every table and put the migrations' rows back, in one transaction."""
        with psycopg.connect(self.url(dbname)) as conn, conn.transaction():
            conn.execute("SET lock_timeout = '10s'")
            names = ", ".join(self._seed)
            conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE".encode())
            for table, rows in self._seed.items():
                for row in rows:
                    marks = ", ".join(["%s"] * len(row))
                    insert = f"INSERT INTO {table} VALUES ({marks})"  # noqa: S608
                    conn.execute(insert.encode(), row)

    def drop_database(self, name: str) -> None:
        with contextlib.suppress(psycopg.Error):
            self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def close(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def replica_settings(tmp_path: Path, manifest_path: Path, url: str, home: str = "home") -> Settings:
    """A replica's settings on the database at ``url``: the in-memory sandbox, and the signing
    secret in one file every replica of the test shares (created once), as in a deployment."""
    secret = tmp_path / "signing.key"
    if not secret.exists():
        secret.write_bytes(b"s" * 32)
    return Settings(
        manifest_path=manifest_path,
        home=tmp_path / home,
        sandbox="memory",
        database_url=url,
        secret_file=secret,
    )

"""The backends the behavioural storage tests run on, behind one small interface.

A test that checks what a user of the ports would notice (rows, order, refusals) takes the
``storage`` fixture and runs on every backend listed here. A backend also offers raw statements
outside mopsgate, which is how the tests play the attacker who edits the database directly.
"Another process" is a second open storage on the same database: on PostgreSQL that is a
second pool of connections, exactly what a second replica holds.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Protocol

import psycopg

from mopsgate.storage import Storage, StorageConfig, open_storage


class Backend(Protocol):
    name: str
    cfg: StorageConfig

    async def open(self) -> Storage: ...

    def execute(self, *statements: str) -> None:
        """Run statements (no parameters: they are written in SQL both engines accept) in one
        transaction, as someone with direct write access to the database would."""
        ...

    def query(self, sql: str) -> list[tuple[Any, ...]]: ...


class SqliteBackend:
    name = "sqlite"

    def __init__(self, tmp: Path) -> None:
        self.path = tmp / "mopsgate.db"
        self.cfg = StorageConfig.sqlite(self.path)

    async def open(self) -> Storage:
        return await open_storage(self.cfg)

    def execute(self, *statements: str) -> None:
        conn = sqlite3.connect(self.path)
        try:
            with conn:
                for statement in statements:
                    conn.execute(statement)
        finally:
            conn.close()

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(self.path)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()


class PostgresBackend:
    name = "postgres"

    def __init__(self, url: str) -> None:
        self.url = url
        self.cfg = StorageConfig(url)

    async def open(self) -> Storage:
        return await open_storage(self.cfg)

    def execute(self, *statements: str) -> None:
        with psycopg.connect(self.url) as conn, conn.transaction():
            for statement in statements:
                conn.execute(statement.encode())

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql.encode()).fetchall()


BACKENDS = ("sqlite", "postgres")

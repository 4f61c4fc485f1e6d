"""Live, read-only views of rows: what a list's or a program's ``members`` is in the
persistent store. Like the in-memory dicts they stand in for, they always show the current
rows (a write made earlier in the same request included), and load nothing until asked."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from mopsgate.sandbox.persist.db import SandboxDb

K = TypeVar("K")
V = TypeVar("V")


class RowMap(Mapping[K, V]):
    """``key → value`` for the rows of ``table`` where ``scope_col = scope``; ``value_cols``
    are decoded by ``decode``. Table and column names come from the store's code, never from
    a request."""

    def __init__(
        self,
        db: SandboxDb,
        table: str,
        scope: tuple[str, Any],
        key_col: str,
        value_cols: str,
        decode: Callable[[tuple[Any, ...]], V],
        key: Callable[[Any], K],
    ) -> None:
        self._db = db
        self._decode = decode
        self._key = key
        self._scope = scope[1]
        where = f"FROM {table} WHERE {scope[0]} = ?"
        self._get_sql = f"SELECT {value_cols} {where} AND {key_col} = ?"
        self._keys_sql = f"SELECT {key_col} {where} ORDER BY {key_col}"
        self._items_sql = f"SELECT {key_col}, {value_cols} {where} ORDER BY {key_col}"
        self._len_sql = f"SELECT count(*) {where}"

    def __getitem__(self, key: K) -> V:
        row = self._db.call(
            lambda: self._db.conn.execute(self._get_sql, (self._scope, key)).fetchone(),
            write=False,
        )
        if row is None:
            raise KeyError(key)
        return self._decode(tuple(row))

    def __iter__(self) -> Iterator[K]:
        rows = self._db.call(
            lambda: self._db.conn.execute(self._keys_sql, (self._scope,)).fetchall(), write=False
        )
        return iter([self._key(r[0]) for r in rows])

    def __len__(self) -> int:
        return int(
            self._db.call(
                lambda: self._db.conn.execute(self._len_sql, (self._scope,)).fetchone()[0],
                write=False,
            )
        )

    def __contains__(self, key: object) -> bool:
        try:
            self[key]  # type: ignore[index]
        except KeyError:
            return False
        return True

    def items(self) -> Any:
        rows = self._db.call(
            lambda: self._db.conn.execute(self._items_sql, (self._scope,)).fetchall(),
            write=False,
        )
        return [(self._key(r[0]), self._decode(tuple(r[1:]))) for r in rows]

    def values(self) -> Any:
        return [v for _k, v in self.items()]

"""What changed in the sandbox since it was seeded: every table of the file compared, row by
row, with the template it was seeded from (``mopsgate sandbox status``).

Generic over the vendors' tables (each names its key columns and what a row is): a row only in
the file was added, one only in the template removed, one in both but different changed; for a
changed row the JSON document is compared field by field, so a changed lead reads as
``title: 'VP' -> 'CMO'``.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from mopsgate.sandbox.persist.store import SandboxStore, tables

JSON_COLUMNS = ("doc", "props")


@dataclass
class TableChanges:
    vendor: str
    table: str
    noun: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)  # key -> what changed

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def changes(store: SandboxStore) -> list[TableChanges]:
    """Every table's changes, vendor by vendor, in one snapshot of the file."""

    def compare(conn: sqlite3.Connection) -> list[TableChanges]:
        out = []
        for vendor, specs in tables().items():
            for table, (keys, noun) in specs.items():
                out.append(_table(conn, vendor, table, keys, noun))
        return out

    result: list[TableChanges] = store.compare(compare)
    return result


def _table(
    conn: sqlite3.Connection, vendor: str, table: str, keys: tuple[str, ...], noun: str
) -> TableChanges:
    columns = [row[1] for row in conn.execute(f"PRAGMA main.table_info({table})")]
    at = [columns.index(k) for k in keys]
    mine = f"SELECT * FROM main.{table} EXCEPT SELECT * FROM tpl.{table}"  # noqa: S608
    theirs = f"SELECT * FROM tpl.{table} EXCEPT SELECT * FROM main.{table}"  # noqa: S608
    now = {_key(r, at): r for r in conn.execute(mine)}
    before = {_key(r, at): r for r in conn.execute(theirs)}
    found = TableChanges(vendor, table, noun)
    found.added = [k for k in now if k not in before]
    found.removed = [k for k in before if k not in now]
    for k in (k for k in now if k in before):
        found.changed[k] = _what_changed(columns, keys, before[k], now[k])
    return found


def _key(row: tuple[Any, ...], at: list[int]) -> str:
    return "/".join(str(row[i]) for i in at)


def _what_changed(
    columns: list[str], keys: tuple[str, ...], old: tuple[Any, ...], new: tuple[Any, ...]
) -> list[str]:
    out: list[str] = []
    for name, was, now in zip(columns, old, new, strict=True):
        if name in keys or was == now:
            continue
        if name in JSON_COLUMNS:
            out.extend(_json_diff(was, now))
        else:
            out.append(f"{name}: {_short(was)} -> {_short(now)}")
    return out


def _json_diff(old: str, new: str) -> list[str]:
    before, after = json.loads(old), json.loads(new)
    if not (isinstance(before, dict) and isinstance(after, dict)):
        return ["value changed"]
    return [
        f"{k}: {_short(before.get(k))} -> {_short(after.get(k))}"
        for k in sorted(set(before) | set(after))
        if before.get(k) != after.get(k)
    ]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."

"""``OrgState`` over the shared sandbox file: what the Salesforce emulator keeps when the
sandbox persists (``sandbox/persist``).

Storage only: records as JSON documents in insertion order (SOQL without ORDER BY answers in
that order, as in memory), the indexed foreign keys as rows re-added on every update (so an
index lists records in the order ``MemoryOrg``'s does), deleted ids, and the counters new ids
are drawn from. Computed fields come from ``OrgReads``; Salesforce's semantics stay in
``rules.py``. Methods run on the store's thread, inside the request's transaction
(``confined``: a test helper calling from elsewhere hops).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from mopsgate.sandbox.persist.codec import dump, load
from mopsgate.sandbox.persist.db import SandboxDb, confined
from mopsgate.sandbox.salesforce import ids
from mopsgate.sandbox.salesforce.state import INDEXED, NEW_ID, OrgReads, Record

SCHEMA = (
    "CREATE TABLE sf_record (seq INTEGER PRIMARY KEY, obj TEXT NOT NULL, "
    "id TEXT NOT NULL UNIQUE, doc TEXT NOT NULL)",
    "CREATE INDEX sf_record_obj ON sf_record (obj, seq)",
    "CREATE TABLE sf_index (obj TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL, "
    "id TEXT NOT NULL)",
    "CREATE INDEX sf_index_value ON sf_index (obj, field, value)",
    "CREATE INDEX sf_index_id ON sf_index (id)",
    "CREATE TABLE sf_deleted (id TEXT PRIMARY KEY)",
    "CREATE TABLE sf_counter (obj TEXT PRIMARY KEY, n INTEGER NOT NULL)",
)
# table -> (key columns, what a row is), for ``mopsgate sandbox status``
TABLES = {
    "sf_record": (("id",), "record"),
    "sf_deleted": (("id",), "deletion"),
}
_FIELDS_BY_OBJ: dict[str, tuple[str, ...]] = {}
for _obj, _field in sorted(INDEXED):
    _FIELDS_BY_OBJ[_obj] = (*_FIELDS_BY_OBJ.get(_obj, ()), _field)


@confined
class SqliteOrg(OrgReads):
    """``OrgState`` in the sandbox file."""

    def __init__(self, db: SandboxDb, now: Callable[[], datetime]) -> None:
        self.db = db
        self._now = now

    # reads ----------------------------------------------------------------------------------
    def rows(self, obj: str) -> Iterable[Record]:
        cur = self.db.conn.execute("SELECT doc FROM sf_record WHERE obj = ? ORDER BY seq", (obj,))
        return [load(r[0]) for r in cur]

    def by_ids(self, obj: str, ids_: Iterable[str]) -> list[Record]:
        out = []
        for native_id in dict.fromkeys(ids_):
            rec = self.record(obj, native_id)
            if rec is not None:
                out.append(rec)
        return out

    def by_index(self, obj: str, field: str, value: str) -> list[Record] | None:
        if (obj, field) not in INDEXED:
            return None
        cur = self.db.conn.execute(
            "SELECT r.doc FROM sf_index i JOIN sf_record r ON r.id = i.id "
            "WHERE i.obj = ? AND i.field = ? AND i.value = ? ORDER BY i.rowid",
            (obj, field, value),
        )
        return [load(r[0]) for r in cur]

    def record(self, obj: str, native_id: str) -> Record | None:
        row = self.db.conn.execute(
            "SELECT doc FROM sf_record WHERE id = ? AND obj = ?", (native_id, obj)
        ).fetchone()
        return None if row is None else dict(load(row[0]))

    def is_deleted(self, native_id: str) -> bool:
        cur = self.db.conn.execute("SELECT 1 FROM sf_deleted WHERE id = ?", (native_id,))
        return cur.fetchone() is not None

    def now(self) -> datetime:
        return self._now()

    # writes ---------------------------------------------------------------------------------
    def insert(self, obj: str, values: Record) -> Record:
        rec = dict(values)
        if not rec.get("Id"):
            rec["Id"] = NEW_ID[obj](self._next(obj))
        self.db.conn.execute(
            "INSERT INTO sf_record (obj, id, doc) VALUES (?, ?, ?)", (obj, rec["Id"], dump(rec))
        )
        self._index(obj, rec)
        return rec

    def update(self, obj: str, native_id: str, values: Mapping[str, Any]) -> None:
        rec = self.record(obj, native_id)
        if rec is None:
            raise KeyError(native_id)
        rec.update(values)
        self.db.conn.execute("UPDATE sf_record SET doc = ? WHERE id = ?", (dump(rec), native_id))
        self.db.conn.execute("DELETE FROM sf_index WHERE id = ?", (native_id,))
        self._index(obj, rec)

    def remove(self, native_id: str) -> bool:
        obj = ids.object_of(native_id)
        rec = self.record(obj, native_id) if obj is not None else None
        if obj is None or rec is None:
            return False
        conn = self.db.conn
        conn.execute("DELETE FROM sf_record WHERE id = ?", (native_id,))
        conn.execute("DELETE FROM sf_index WHERE id = ?", (native_id,))
        conn.execute("INSERT OR IGNORE INTO sf_deleted (id) VALUES (?)", (native_id,))
        if obj in ids.PERSON_OBJECTS:  # campaign members go with the person, as in a real org
            key = "ContactId" if obj == ids.CONTACT else "LeadId"
            for m in self.by_index("CampaignMember", key, native_id) or []:
                self.remove(m["Id"])
        return True

    def _index(self, obj: str, rec: Record) -> None:
        self.db.conn.executemany(
            "INSERT INTO sf_index (obj, field, value, id) VALUES (?, ?, ?, ?)",
            [(obj, f, rec[f], rec["Id"]) for f in _FIELDS_BY_OBJ.get(obj, ()) if rec.get(f)],
        )

    def _next(self, obj: str) -> int:
        row = self.db.conn.execute("SELECT n FROM sf_counter WHERE obj = ?", (obj,)).fetchone()
        n = 0 if row is None else int(row[0])
        self.db.conn.execute(
            "INSERT OR REPLACE INTO sf_counter (obj, n) VALUES (?, ?)", (obj, n + 1)
        )
        return n

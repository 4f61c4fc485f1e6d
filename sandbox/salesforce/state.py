"""The Salesforce emulator's state: the narrow interface its routes, rules and SOQL evaluator
use, and the in-memory org behind it.

``OrgState`` is the whole contract: records by object and id, a few indexed foreign keys, field
reads that include the computed fields, inserts, updates and deletes. Nothing else reaches
into the data, so another store (``sqlite_state.SqliteOrg``, a file shared by several
processes) stands in for ``MemoryOrg`` without a route changing. Records handed out are
read-only views: change them through ``update``. Computed fields and relationship paths are
worked out once, in ``OrgReads``, over any store's ``record`` and ``by_index``.

In memory, records are plain dicts keyed by object and id; the foreign keys queries filter on
(CampaignMember.CampaignId/LeadId/ContactId, CampaignMemberStatus.CampaignId, Task.WhoId and
WhatId) are indexed, and roll-ups (Campaign.NumberOfLeads...) and CampaignMember copies of
person fields are computed on read, so they can never drift from the membership rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from mopsgate.connectors.salesforce import fields as cat
from mopsgate.sandbox.salesforce import ids

Record = dict[str, Any]

INDEXED = {
    ("CampaignMember", "CampaignId"),
    ("CampaignMember", "LeadId"),
    ("CampaignMember", "ContactId"),
    ("CampaignMemberStatus", "CampaignId"),
    ("Task", "WhoId"),
    ("Task", "WhatId"),
}
_MEMBER_COPIES = ("Email", "FirstName", "LastName", "HasOptedOutOfEmail", "DoNotCall")
NEW_ID = {
    "Lead": ids.new_lead_id,
    "Contact": ids.new_contact_id,
    "CampaignMember": ids.member_id,
    "Task": ids.task_id,
    "CampaignMemberStatus": ids.status_id,
}


class OrgState(Protocol):
    # reads (what the SOQL evaluator needs too) ----------------------------------------------
    def rows(self, obj: str) -> Iterable[Record]: ...

    def by_ids(self, obj: str, ids: Iterable[str]) -> list[Record]: ...

    def by_index(self, obj: str, field: str, value: str) -> list[Record] | None:
        """Records whose indexed ``field`` equals ``value``; None when the field has no index."""
        ...

    def get(self, obj: str, rec: Record, path: str) -> Any:
        """A field (computed ones included) or a relationship path such as ``Owner.Name``."""
        ...

    def record(self, obj: str, native_id: str) -> Record | None: ...

    def is_deleted(self, native_id: str) -> bool: ...

    def now(self) -> datetime: ...

    # writes ---------------------------------------------------------------------------------
    def insert(self, obj: str, values: Record) -> Record:
        """Store a new record; an ``Id`` is assigned when ``values`` has none."""
        ...

    def update(self, obj: str, native_id: str, values: Mapping[str, Any]) -> None: ...

    def remove(self, native_id: str) -> bool:
        """Delete a record (a person takes its campaign memberships along); False if absent."""
        ...


class OrgReads:
    """Field reads every store shares: computed fields (the Name of a person, CampaignMember
    copies of person fields, Campaign roll-ups) and relationship paths, over the store's own
    ``record`` and ``by_index``."""

    def record(self, obj: str, native_id: str) -> Record | None:
        raise NotImplementedError

    def by_index(self, obj: str, field: str, value: str) -> list[Record] | None:
        raise NotImplementedError

    def get(self, obj: str, rec: Record, path: str) -> Any:
        if "." in path:
            rel, _, field = path.partition(".")
            fk, target = cat.RELATIONSHIPS[obj][rel]
            parent = self.record(target, rec.get(fk) or "")
            return None if parent is None else self.get(target, parent, field)
        if path in rec:
            return rec[path]
        return self._computed(obj, rec, path)

    def _computed(self, obj: str, rec: Record, field: str) -> Any:
        if field == cat.NAME_FIELD and cat.is_person(obj):
            return " ".join(x for x in (rec.get("FirstName"), rec.get("LastName")) if x)
        if obj == "CampaignMember":
            pid = rec.get("LeadId") or rec.get("ContactId")
            if field == "LeadOrContactId":
                return pid
            person = self._person(pid) if pid else None
            return person.get(field) if person and field in _MEMBER_COPIES else None
        if obj == "Campaign" and field.startswith("NumberOf"):
            members = self.by_index("CampaignMember", "CampaignId", rec["Id"]) or []
            if field == "NumberOfResponses":
                return sum(1 for m in members if m["HasResponded"])
            key = "LeadId" if field == "NumberOfLeads" else "ContactId"
            return sum(1 for m in members if m.get(key))
        return None

    def _person(self, native_id: str) -> Record | None:
        obj = ids.object_of(native_id)
        return self.record(obj, native_id) if obj in ids.PERSON_OBJECTS else None


class MemoryOrg(OrgReads):
    """``OrgState`` in dicts."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._objects: dict[str, dict[str, Record]] = {o: {} for o in cat.all_objects()}
        self._index: dict[tuple[str, str], dict[str, dict[str, None]]] = {k: {} for k in INDEXED}
        self._deleted: set[str] = set()
        self._counters = dict.fromkeys(NEW_ID, 0)

    def copy(self) -> MemoryOrg:
        """An org of its own holding the same records (each fresh seeded state is one,
        ``seeded.py``): every table, record and index entry new; the values in them, which
        nothing changes in place, shared (tests/sandbox/test_seeded_copies.py)."""
        new = MemoryOrg(self._now)
        new._objects = {o: {i: dict(r) for i, r in t.items()} for o, t in self._objects.items()}
        new._index = {k: {v: dict(i) for v, i in idx.items()} for k, idx in self._index.items()}
        new._deleted = set(self._deleted)
        new._counters = dict(self._counters)
        return new

    def tell_time_by(self, now: Callable[[], datetime]) -> None:
        """The clock for what is written from here on (a copied org takes its emulator's)."""
        self._now = now

    # reads ----------------------------------------------------------------------------------
    def rows(self, obj: str) -> Iterable[Record]:
        return self._objects[obj].values()

    def by_ids(self, obj: str, ids_: Iterable[str]) -> list[Record]:
        table = self._objects[obj]
        return [table[i] for i in dict.fromkeys(ids_) if i in table]

    def by_index(self, obj: str, field: str, value: str) -> list[Record] | None:
        idx = self._index.get((obj, field))
        if idx is None:
            return None
        return self.by_ids(obj, idx.get(value, {}))

    def record(self, obj: str, native_id: str) -> Record | None:
        table = self._objects.get(obj)
        return None if table is None else table.get(native_id)

    def is_deleted(self, native_id: str) -> bool:
        return native_id in self._deleted

    def now(self) -> datetime:
        return self._now()

    # writes ---------------------------------------------------------------------------------
    def insert(self, obj: str, values: Record) -> Record:
        rec = dict(values)
        if not rec.get("Id"):
            n = self._counters[obj]
            self._counters[obj] = n + 1
            rec["Id"] = NEW_ID[obj](n)
        self._objects[obj][rec["Id"]] = rec
        self._reindex(obj, rec, add=True)
        return rec

    def update(self, obj: str, native_id: str, values: Mapping[str, Any]) -> None:
        rec = self._objects[obj][native_id]
        self._reindex(obj, rec, add=False)
        rec.update(values)
        self._reindex(obj, rec, add=True)

    def remove(self, native_id: str) -> bool:
        obj = ids.object_of(native_id)
        rec = self._objects[obj].pop(native_id, None) if obj in self._objects else None
        if obj is None or rec is None:
            return False
        self._deleted.add(native_id)
        self._reindex(obj, rec, add=False)
        if obj in ids.PERSON_OBJECTS:  # campaign members go with the person, as in a real org
            key = "ContactId" if obj == ids.CONTACT else "LeadId"
            for m in list(self.by_index("CampaignMember", key, native_id) or []):
                self.remove(m["Id"])
        return True

    def _reindex(self, obj: str, rec: Record, *, add: bool) -> None:
        for (o, field), idx in self._index.items():
            if o == obj and rec.get(field):
                if add:
                    idx.setdefault(rec[field], {})[rec["Id"]] = None
                else:
                    idx.get(rec[field], {}).pop(rec["Id"], None)

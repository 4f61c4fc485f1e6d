"""``InstanceState`` over the shared sandbox file: what the Marketo emulator keeps when the
sandbox persists (``sandbox/persist``).

Storage only: every method does what ``MemoryInstance``'s does, over tables instead of dicts
(leads as JSON documents with a case-blind email key, memberships as rows, the activity log in
position order). Marketo's semantics stay in ``rules.py``. Methods run on the store's thread,
inside the request's transaction (``confined``: a test helper calling from elsewhere hops).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from mopsgate.sandbox.marketo.state import (
    Activity,
    Ladder,
    Lead,
    Member,
    Program,
    SmartCampaign,
    SmartList,
    StaticList,
)
from mopsgate.sandbox.persist.codec import dump, dump_fields, load, load_fields
from mopsgate.sandbox.persist.db import SandboxDb, confined
from mopsgate.sandbox.persist.views import RowMap

SCHEMA = (
    "CREATE TABLE mk_lead (id INTEGER PRIMARY KEY, email_key TEXT, doc TEXT NOT NULL)",
    "CREATE INDEX mk_lead_email ON mk_lead (email_key)",
    "CREATE TABLE mk_static_list (id INTEGER PRIMARY KEY, doc TEXT NOT NULL)",
    "CREATE TABLE mk_list_member (list_id INTEGER NOT NULL, lead_id INTEGER NOT NULL, "
    "added_at TEXT NOT NULL, PRIMARY KEY (list_id, lead_id)) WITHOUT ROWID",
    "CREATE INDEX mk_list_member_lead ON mk_list_member (lead_id)",
    "CREATE TABLE mk_smart_list (id INTEGER PRIMARY KEY, doc TEXT NOT NULL)",
    "CREATE TABLE mk_program (id INTEGER PRIMARY KEY, doc TEXT NOT NULL)",
    "CREATE TABLE mk_program_member (program_id INTEGER NOT NULL, lead_id INTEGER NOT NULL, "
    "doc TEXT NOT NULL, PRIMARY KEY (program_id, lead_id)) WITHOUT ROWID",
    "CREATE INDEX mk_program_member_lead ON mk_program_member (lead_id)",
    "CREATE TABLE mk_channel (name TEXT PRIMARY KEY, doc TEXT NOT NULL)",
    "CREATE TABLE mk_smart_campaign (id INTEGER PRIMARY KEY, doc TEXT NOT NULL)",
    "CREATE TABLE mk_activity (pos INTEGER PRIMARY KEY, date TEXT NOT NULL, doc TEXT NOT NULL)",
    "CREATE INDEX mk_activity_date ON mk_activity (date)",
    "CREATE TABLE mk_sales_person (id INTEGER PRIMARY KEY, doc TEXT NOT NULL)",
    "CREATE TABLE mk_run (seq INTEGER PRIMARY KEY, kind TEXT NOT NULL, doc TEXT NOT NULL)",
)
# table -> (key columns, what a row is), for ``mopsgate sandbox status``
TABLES = {
    "mk_lead": (("id",), "lead"),
    "mk_static_list": (("id",), "static list"),
    "mk_list_member": (("list_id", "lead_id"), "list membership"),
    "mk_smart_list": (("id",), "smart list"),
    "mk_program": (("id",), "program"),
    "mk_program_member": (("program_id", "lead_id"), "program membership"),
    "mk_channel": (("name",), "channel"),
    "mk_smart_campaign": (("id",), "smart campaign"),
    "mk_activity": (("pos",), "activity"),
    "mk_sales_person": (("id",), "sales person"),
    "mk_run": (("seq",), "campaign run or deletion"),
}


def _email_key(email: Any) -> str | None:
    return email.strip().casefold() if isinstance(email, str) else None


def _member(row: tuple[Any, ...]) -> Member:
    return load_fields(Member, row[0])


@confined
class SqliteInstance:
    """``InstanceState`` in the sandbox file."""

    def __init__(self, db: SandboxDb) -> None:
        self.db = db

    def _one(self, sql: str, *args: Any) -> Any:
        row = self.db.conn.execute(sql, args).fetchone()
        return None if row is None else row[0]

    def _col(self, sql: str, *args: Any) -> list[Any]:
        return [r[0] for r in self.db.conn.execute(sql, args)]

    def _put(self, sql: str, *args: Any) -> None:
        self.db.conn.execute(sql, args)

    # leads ----------------------------------------------------------------------------------
    def lead(self, lead_id: int) -> Lead | None:
        doc = self._one("SELECT doc FROM mk_lead WHERE id = ?", lead_id)
        return None if doc is None else dict(load(doc))

    def find_leads(self, field: str, values: Iterable[str]) -> list[int]:
        if field == "email":
            keys = sorted({v.strip().casefold() for v in values})
            marks = ",".join("?" * len(keys))
            return self._col(
                f"SELECT id FROM mk_lead WHERE email_key IN ({marks}) ORDER BY id",  # noqa: S608
                *keys,
            )
        if field == "id":
            wanted = sorted({int(v) for v in values if v.strip().isdigit()})
            marks = ",".join("?" * len(wanted))
            return self._col(
                f"SELECT id FROM mk_lead WHERE id IN ({marks}) ORDER BY id",  # noqa: S608
                *wanted,
            )
        folded = {v.strip().casefold() for v in values}
        path = '$."' + field.replace('"', "") + '"'
        rows = self.db.conn.execute(
            "SELECT id, json_extract(doc, ?) FROM mk_lead ORDER BY id", (path,)
        )
        return [lid for lid, value in rows if str(value or "").casefold() in folded]

    def add_lead(self, lead: Lead) -> None:
        self._put(
            "INSERT INTO mk_lead (id, email_key, doc) VALUES (?, ?, ?)",
            lead["id"],
            _email_key(lead.get("email")),
            dump(lead),
        )

    def save_lead(self, lead_id: int, changes: Mapping[str, Any]) -> None:
        lead = self.lead(lead_id)
        if lead is None:
            raise KeyError(lead_id)
        lead.update(changes)
        self._put(
            "UPDATE mk_lead SET email_key = ?, doc = ? WHERE id = ?",
            _email_key(lead.get("email")),
            dump(lead),
            lead_id,
        )

    def remove_lead(self, lead_id: int) -> None:
        if self.lead(lead_id) is None:
            raise KeyError(lead_id)
        for table in ("mk_lead", "mk_list_member", "mk_program_member"):
            column = "id" if table == "mk_lead" else "lead_id"
            self._put(f"DELETE FROM {table} WHERE {column} = ?", lead_id)  # noqa: S608

    def lead_count(self) -> int:
        return int(self._one("SELECT count(*) FROM mk_lead"))

    def new_lead_id(self) -> int:
        highest = self._one("SELECT coalesce(max(id), 0) FROM mk_lead")
        deleted = self._one(
            "SELECT coalesce(max(json_extract(doc, '$.leadId')), 0) FROM mk_run "
            "WHERE kind = 'deleted'"
        )
        return 1 + max(int(highest), int(deleted))

    # static and smart lists -----------------------------------------------------------------
    def _static(self, doc: str) -> StaticList:
        lst = load_fields(StaticList, doc)
        members: RowMap[int, str] = RowMap(
            self.db, "mk_list_member", ("list_id", lst.id), "lead_id", "added_at", _first, int
        )
        return replace(lst, members=members)

    def static_list(self, list_id: int) -> StaticList | None:
        doc = self._one("SELECT doc FROM mk_static_list WHERE id = ?", list_id)
        return None if doc is None else self._static(doc)

    def static_lists(self) -> list[StaticList]:
        return [self._static(d) for d in self._col("SELECT doc FROM mk_static_list ORDER BY id")]

    def add_static_list(self, lst: StaticList) -> None:
        self._put(
            "INSERT INTO mk_static_list (id, doc) VALUES (?, ?)",
            lst.id,
            dump_fields(lst, skip=("members",)),
        )
        self.db.conn.executemany(
            "INSERT INTO mk_list_member (list_id, lead_id, added_at) VALUES (?, ?, ?)",
            [(lst.id, lead_id, at) for lead_id, at in lst.members.items()],
        )

    def remove_static_list(self, list_id: int) -> None:
        if self.static_list(list_id) is None:
            raise KeyError(list_id)
        self._put("DELETE FROM mk_list_member WHERE list_id = ?", list_id)
        self._put("DELETE FROM mk_static_list WHERE id = ?", list_id)

    def lists_of(self, lead_id: int) -> dict[int, str]:
        rows = self.db.conn.execute(
            "SELECT list_id, added_at FROM mk_list_member WHERE lead_id = ? ORDER BY list_id",
            (lead_id,),
        )
        return {list_id: at for list_id, at in rows}

    def add_list_member(self, list_id: int, lead_id: int, at: str) -> None:
        self._put(
            "INSERT OR REPLACE INTO mk_list_member (list_id, lead_id, added_at) VALUES (?, ?, ?)",
            list_id,
            lead_id,
            at,
        )

    def remove_list_member(self, list_id: int, lead_id: int) -> None:
        self._put("DELETE FROM mk_list_member WHERE list_id = ? AND lead_id = ?", list_id, lead_id)

    def smart_list(self, list_id: int) -> SmartList | None:
        doc = self._one("SELECT doc FROM mk_smart_list WHERE id = ?", list_id)
        return None if doc is None else load_fields(SmartList, doc)

    def smart_lists(self) -> list[SmartList]:
        docs = self._col("SELECT doc FROM mk_smart_list ORDER BY id")
        return [load_fields(SmartList, d) for d in docs]

    def add_smart_list(self, lst: SmartList) -> None:
        self._put("INSERT INTO mk_smart_list (id, doc) VALUES (?, ?)", lst.id, dump_fields(lst))

    # programs, channels, smart campaigns ----------------------------------------------------
    def _program(self, doc: str) -> Program:
        prog = load_fields(Program, doc)
        members: RowMap[int, Member] = RowMap(
            self.db, "mk_program_member", ("program_id", prog.id), "lead_id", "doc", _member, int
        )
        return replace(prog, members=members)

    def program(self, program_id: int) -> Program | None:
        doc = self._one("SELECT doc FROM mk_program WHERE id = ?", program_id)
        return None if doc is None else self._program(doc)

    def programs(self) -> list[Program]:
        return [self._program(d) for d in self._col("SELECT doc FROM mk_program ORDER BY id")]

    def add_program(self, program: Program) -> None:
        self._put(
            "INSERT INTO mk_program (id, doc) VALUES (?, ?)",
            program.id,
            dump_fields(program, skip=("members",)),
        )
        self.db.conn.executemany(
            "INSERT INTO mk_program_member (program_id, lead_id, doc) VALUES (?, ?, ?)",
            [(program.id, lid, dump_fields(m)) for lid, m in program.members.items()],
        )

    def programs_of(self, lead_id: int) -> dict[int, Member]:
        rows = self.db.conn.execute(
            "SELECT program_id, doc FROM mk_program_member WHERE lead_id = ? ORDER BY program_id",
            (lead_id,),
        )
        return {pid: load_fields(Member, doc) for pid, doc in rows}

    def save_member(self, program_id: int, lead_id: int, member: Member) -> None:
        self._put(
            "INSERT OR REPLACE INTO mk_program_member (program_id, lead_id, doc) VALUES (?, ?, ?)",
            program_id,
            lead_id,
            dump_fields(member),
        )

    def channel(self, name: str) -> Ladder | None:
        doc = self._one("SELECT doc FROM mk_channel WHERE name = ?", name)
        return None if doc is None else _ladder(doc)

    def channels(self) -> dict[str, Ladder]:
        rows = self.db.conn.execute("SELECT name, doc FROM mk_channel ORDER BY rowid")
        return {name: _ladder(doc) for name, doc in rows}

    def add_channel(self, name: str, ladder: Ladder) -> None:
        self._put("INSERT OR REPLACE INTO mk_channel (name, doc) VALUES (?, ?)", name, dump(ladder))

    def smart_campaign(self, campaign_id: int) -> SmartCampaign | None:
        doc = self._one("SELECT doc FROM mk_smart_campaign WHERE id = ?", campaign_id)
        return None if doc is None else load_fields(SmartCampaign, doc)

    def smart_campaigns(self) -> list[SmartCampaign]:
        docs = self._col("SELECT doc FROM mk_smart_campaign ORDER BY id")
        return [load_fields(SmartCampaign, d) for d in docs]

    def save_smart_campaign(self, campaign: SmartCampaign) -> None:
        self._put(
            "INSERT OR REPLACE INTO mk_smart_campaign (id, doc) VALUES (?, ?)",
            campaign.id,
            dump_fields(campaign),
        )

    # activities and sales persons -----------------------------------------------------------
    def activity_count(self) -> int:  # positions run from 0 without gaps
        return int(self._one("SELECT coalesce(max(pos) + 1, 0) FROM mk_activity"))

    def activities(self, start: int, stop: int) -> list[Activity]:
        docs = self._col(
            "SELECT doc FROM mk_activity WHERE pos >= ? AND pos < ? ORDER BY pos",
            max(0, start),
            stop,
        )
        return [load(d) for d in docs]

    def activity_position(self, since: str) -> int:
        return int(self._one("SELECT count(*) FROM mk_activity WHERE date < ?", since))

    def add_activity(self, activity: Activity) -> None:
        last = self._one("SELECT date FROM mk_activity ORDER BY pos DESC LIMIT 1")
        if last is not None and last > activity["activityDate"]:
            activity = {**activity, "activityDate": last}  # keep the log in date order
        self._put(
            "INSERT INTO mk_activity (pos, date, doc) VALUES (?, ?, ?)",
            self.activity_count(),
            activity["activityDate"],
            dump(activity),
        )

    def sales_persons(self) -> list[dict[str, Any]]:
        return [load(d) for d in self._col("SELECT doc FROM mk_sales_person ORDER BY id")]

    def add_sales_person(self, person: dict[str, Any]) -> None:
        self._put(
            "INSERT OR REPLACE INTO mk_sales_person (id, doc) VALUES (?, ?)",
            person["id"],
            dump(person),
        )

    # what was run ---------------------------------------------------------------------------
    def record_run(self, kind: str, entry: dict[str, Any]) -> None:
        self._put("INSERT INTO mk_run (kind, doc) VALUES (?, ?)", kind, dump(entry))

    def runs(self, kind: str) -> list[dict[str, Any]]:
        return [
            load(d) for d in self._col("SELECT doc FROM mk_run WHERE kind = ? ORDER BY seq", kind)
        ]


def _first(row: tuple[Any, ...]) -> Any:
    return row[0]


def _ladder(doc: str) -> Ladder:
    return tuple((str(s), int(n), bool(ok)) for s, n, ok in load(doc))

"""``PortalState`` over the shared sandbox file: what the HubSpot emulator keeps when the
sandbox persists (``sandbox/persist``).

Storage only: every method does what ``MemoryPortal``'s does, over tables (contacts with their
properties as JSON and a case-blind email key, archived ones flagged, list and campaign
members as rows). HubSpot's semantics stay in ``rules.py``. Methods run on the store's thread,
inside the request's transaction (``confined``: a test helper calling from elsewhere hops).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from mopsgate.sandbox.hubspot.state import (
    Company,
    Contact,
    EmailEvent,
    PortalCampaign,
    PortalList,
    PortalOwner,
)
from mopsgate.sandbox.persist.codec import dump, dump_fields, load, load_fields
from mopsgate.sandbox.persist.db import SandboxDb, confined
from mopsgate.sandbox.persist.views import RowMap

SCHEMA = (
    "CREATE TABLE hs_contact (id INTEGER PRIMARY KEY, email_key TEXT, "
    "archived INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, "
    "props TEXT NOT NULL)",
    "CREATE INDEX hs_contact_email ON hs_contact (email_key)",
    "CREATE TABLE hs_company (id INTEGER PRIMARY KEY, archived INTEGER NOT NULL DEFAULT 0, "
    "created_at TEXT NOT NULL, updated_at TEXT NOT NULL, props TEXT NOT NULL)",
    "CREATE TABLE hs_link (contact_id INTEGER NOT NULL, company_id INTEGER NOT NULL, "
    "is_primary INTEGER NOT NULL, PRIMARY KEY (contact_id, company_id)) WITHOUT ROWID",
    "CREATE INDEX hs_link_company ON hs_link (company_id)",
    "CREATE TABLE hs_list (id INTEGER PRIMARY KEY, doc TEXT NOT NULL)",
    "CREATE TABLE hs_list_member (list_id INTEGER NOT NULL, contact_id INTEGER NOT NULL, "
    "at TEXT NOT NULL, PRIMARY KEY (list_id, contact_id)) WITHOUT ROWID",
    "CREATE INDEX hs_list_member_contact ON hs_list_member (contact_id)",
    "CREATE TABLE hs_campaign (seq INTEGER PRIMARY KEY, guid TEXT NOT NULL UNIQUE, "
    "doc TEXT NOT NULL)",
    "CREATE TABLE hs_campaign_member (guid TEXT NOT NULL, contact_id INTEGER NOT NULL, "
    "kind TEXT NOT NULL, PRIMARY KEY (guid, contact_id)) WITHOUT ROWID",
    "CREATE TABLE hs_owner (id INTEGER PRIMARY KEY, doc TEXT NOT NULL)",
    "CREATE TABLE hs_event (seq INTEGER PRIMARY KEY, doc TEXT NOT NULL)",
    "CREATE TABLE hs_write (seq INTEGER PRIMARY KEY, doc TEXT NOT NULL)",
)
# table -> (key columns, what a row is), for ``mopsgate sandbox status``
TABLES = {
    "hs_contact": (("id",), "contact"),
    "hs_company": (("id",), "company"),
    "hs_link": (("contact_id", "company_id"), "contact-company association"),
    "hs_list": (("id",), "list"),
    "hs_list_member": (("list_id", "contact_id"), "list membership"),
    "hs_campaign": (("guid",), "campaign"),
    "hs_campaign_member": (("guid", "contact_id"), "campaign attribution"),
    "hs_owner": (("id",), "owner"),
    "hs_event": (("seq",), "email event"),
    "hs_write": (("seq",), "logged write"),
}
_CONTACT = "SELECT id, props, created_at, updated_at FROM hs_contact"
_COMPANY = "SELECT id, props, created_at, updated_at FROM hs_company"
_TABLES = {"contacts": "hs_contact", "companies": "hs_company"}


def _email_key(email: str | None) -> str | None:
    key = (email or "").strip().lower()
    return key or None


def _contact(row: tuple[Any, ...]) -> Contact:
    return Contact(str(row[0]), load(row[1]), row[2], row[3])


def _company(row: tuple[Any, ...]) -> Company:
    return Company(str(row[0]), load(row[1]), row[2], row[3])


def _first(row: tuple[Any, ...]) -> Any:
    return row[0]


@confined
class SqlitePortal:
    """``PortalState`` in the sandbox file."""

    def __init__(self, db: SandboxDb) -> None:
        self.db = db

    def _put(self, sql: str, *args: Any) -> None:
        self.db.conn.execute(sql, args)

    # contacts -------------------------------------------------------------------------------
    def contact(self, contact_id: str) -> Contact | None:
        if not contact_id.isdigit():
            return None
        row = self.db.conn.execute(
            f"{_CONTACT} WHERE id = ? AND archived = 0", (int(contact_id),)
        ).fetchone()
        return None if row is None else _contact(row)

    def contacts(self) -> Iterable[Contact]:
        rows = self.db.conn.execute(f"{_CONTACT} WHERE archived = 0 ORDER BY id")
        return [_contact(r) for r in rows]

    def ids_by_email(self, email: str) -> list[str]:
        key = _email_key(email)
        rows = self.db.conn.execute(
            "SELECT id FROM hs_contact WHERE email_key = ? AND archived = 0 ORDER BY id", (key,)
        )
        return [str(r[0]) for r in rows]

    def add_contact(self, contact: Contact) -> None:
        self._put(
            "INSERT INTO hs_contact (id, email_key, created_at, updated_at, props) "
            "VALUES (?, ?, ?, ?, ?)",
            int(contact.id),
            _email_key(contact.props.get("email")),
            contact.created_at,
            contact.updated_at,
            dump(contact.props),
        )

    def save_contact(self, contact_id: str, props: Mapping[str, str | None], at: str) -> None:
        contact = self.contact(contact_id)
        if contact is None:
            raise KeyError(contact_id)
        contact.props.update(props)
        self._put(
            "UPDATE hs_contact SET email_key = ?, props = ?, updated_at = ? WHERE id = ?",
            _email_key(contact.props.get("email")),
            dump(contact.props),
            at,
            int(contact_id),
        )

    def archive_contact(self, contact_id: str) -> None:
        if self.contact(contact_id) is None:
            raise KeyError(contact_id)
        self._put("UPDATE hs_contact SET archived = 1 WHERE id = ?", int(contact_id))
        self._put("DELETE FROM hs_list_member WHERE contact_id = ?", int(contact_id))
        self._put("DELETE FROM hs_link WHERE contact_id = ?", int(contact_id))

    def is_archived(self, contact_id: str) -> bool:
        if not contact_id.isdigit():
            return False
        row = self.db.conn.execute(
            "SELECT archived FROM hs_contact WHERE id = ?", (int(contact_id),)
        ).fetchone()
        return bool(row and row[0])

    def new_id(self, object_type: str) -> str:
        table = _TABLES[object_type]
        row = self.db.conn.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()  # noqa: S608
        return str(int(row[0]) + 1)

    # companies and their contacts -----------------------------------------------------------
    def company(self, company_id: str) -> Company | None:
        if not company_id.isdigit():
            return None
        row = self.db.conn.execute(
            f"{_COMPANY} WHERE id = ? AND archived = 0", (int(company_id),)
        ).fetchone()
        return None if row is None else _company(row)

    def companies(self) -> Iterable[Company]:
        rows = self.db.conn.execute(f"{_COMPANY} WHERE archived = 0 ORDER BY id")
        return [_company(r) for r in rows]

    def add_company(self, company: Company) -> None:
        self._put(
            "INSERT INTO hs_company (id, created_at, updated_at, props) VALUES (?, ?, ?, ?)",
            int(company.id),
            company.created_at,
            company.updated_at,
            dump(company.props),
        )

    def save_company(self, company_id: str, props: Mapping[str, str | None], at: str) -> None:
        company = self.company(company_id)
        if company is None:
            raise KeyError(company_id)
        company.props.update(props)
        self._put(
            "UPDATE hs_company SET props = ?, updated_at = ? WHERE id = ?",
            dump(company.props),
            at,
            int(company_id),
        )

    def archive_company(self, company_id: str) -> None:
        if self.company(company_id) is None:
            raise KeyError(company_id)
        self._put("UPDATE hs_company SET archived = 1 WHERE id = ?", int(company_id))
        self._put("DELETE FROM hs_link WHERE company_id = ?", int(company_id))

    def link(self, contact_id: str, company_id: str, primary: bool) -> None:
        self._put(
            "INSERT INTO hs_link (contact_id, company_id, is_primary) VALUES (?, ?, ?) "
            "ON CONFLICT (contact_id, company_id) DO UPDATE SET is_primary = max(is_primary, ?)",
            int(contact_id),
            int(company_id),
            int(primary),
            int(primary),
        )

    def unlink(self, contact_id: str, company_id: str) -> None:
        self._put(
            "DELETE FROM hs_link WHERE contact_id = ? AND company_id = ?",
            int(contact_id),
            int(company_id),
        )

    def companies_of(self, contact_id: str) -> dict[str, bool]:
        rows = self.db.conn.execute(
            "SELECT company_id, is_primary FROM hs_link WHERE contact_id = ? ORDER BY company_id",
            (int(contact_id),),
        )
        return {str(c): bool(p) for c, p in rows}

    def contacts_of(self, company_id: str) -> dict[str, bool]:
        rows = self.db.conn.execute(
            "SELECT contact_id, is_primary FROM hs_link WHERE company_id = ? ORDER BY contact_id",
            (int(company_id),),
        )
        return {str(c): bool(p) for c, p in rows}

    # lists ----------------------------------------------------------------------------------
    def _list(self, doc: str) -> PortalList:
        lst = load_fields(PortalList, doc, members={})
        members: RowMap[str, str] = RowMap(
            self.db, "hs_list_member", ("list_id", int(lst.id)), "contact_id", "at", _first, str
        )
        return replace(lst, members=members)

    def list_by_id(self, list_id: str) -> PortalList | None:
        if not list_id.isdigit():
            return None
        row = self.db.conn.execute("SELECT doc FROM hs_list WHERE id = ?", (int(list_id),))
        found = row.fetchone()
        return None if found is None else self._list(found[0])

    def lists(self) -> list[PortalList]:
        return [
            self._list(r[0]) for r in self.db.conn.execute("SELECT doc FROM hs_list ORDER BY id")
        ]

    def add_list(self, lst: PortalList) -> None:
        self._put(
            "INSERT INTO hs_list (id, doc) VALUES (?, ?)",
            int(lst.id),
            dump_fields(lst, skip=("members",)),
        )
        self.db.conn.executemany(
            "INSERT INTO hs_list_member (list_id, contact_id, at) VALUES (?, ?, ?)",
            [(int(lst.id), int(cid), at) for cid, at in lst.members.items()],
        )

    def remove_list(self, list_id: str) -> None:
        if self.list_by_id(list_id) is None:
            raise KeyError(list_id)
        self._put("DELETE FROM hs_list_member WHERE list_id = ?", int(list_id))
        self._put("DELETE FROM hs_list WHERE id = ?", int(list_id))

    def set_members(
        self, list_id: str, added: Iterable[str], removed: Iterable[str], at: str
    ) -> None:
        lst = self.list_by_id(list_id)
        if lst is None:
            raise KeyError(list_id)
        new = [a for a in added if a not in lst.members]
        gone = [r for r in removed if r in lst.members]
        self.db.conn.executemany(
            "DELETE FROM hs_list_member WHERE list_id = ? AND contact_id = ?",
            [(int(list_id), int(r)) for r in gone],
        )
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO hs_list_member (list_id, contact_id, at) VALUES (?, ?, ?)",
            [(int(list_id), int(a), at) for a in new],
        )
        if new or gone:
            bumped = replace(lst, version=lst.version + 1, updated_at=at)
            self._put(
                "UPDATE hs_list SET doc = ? WHERE id = ?",
                dump_fields(bumped, skip=("members",)),
                int(list_id),
            )

    # campaigns, owners, email events --------------------------------------------------------
    def _campaign(self, doc: str) -> PortalCampaign:
        campaign = load_fields(PortalCampaign, doc, members={})
        members: RowMap[str, str] = RowMap(
            self.db,
            "hs_campaign_member",
            ("guid", campaign.guid),
            "contact_id",
            "kind",
            _first,
            str,
        )
        return replace(campaign, members=members)

    def campaign(self, guid: str) -> PortalCampaign | None:
        row = self.db.conn.execute("SELECT doc FROM hs_campaign WHERE guid = ?", (guid,))
        found = row.fetchone()
        return None if found is None else self._campaign(found[0])

    def campaigns(self) -> list[PortalCampaign]:
        rows = self.db.conn.execute("SELECT doc FROM hs_campaign ORDER BY seq")
        return [self._campaign(r[0]) for r in rows]

    def add_campaign(self, campaign: PortalCampaign) -> None:
        self._put(
            "INSERT INTO hs_campaign (guid, doc) VALUES (?, ?)",
            campaign.guid,
            dump_fields(campaign, skip=("members",)),
        )
        self.db.conn.executemany(
            "INSERT INTO hs_campaign_member (guid, contact_id, kind) VALUES (?, ?, ?)",
            [(campaign.guid, int(cid), kind) for cid, kind in campaign.members.items()],
        )

    def owners(self) -> list[PortalOwner]:
        rows = self.db.conn.execute("SELECT doc FROM hs_owner ORDER BY id")
        return [load_fields(PortalOwner, r[0]) for r in rows]

    def add_owner(self, owner: PortalOwner) -> None:
        self._put(
            "INSERT OR REPLACE INTO hs_owner (id, doc) VALUES (?, ?)",
            int(owner.id),
            dump_fields(owner),
        )

    def events(self) -> list[EmailEvent]:
        rows = self.db.conn.execute("SELECT doc FROM hs_event ORDER BY seq")
        return [load_fields(EmailEvent, r[0]) for r in rows]

    def add_event(self, event: EmailEvent) -> None:
        self._put("INSERT INTO hs_event (doc) VALUES (?)", dump_fields(event))

    # what was written -----------------------------------------------------------------------
    def log_write(self, entry: dict[str, Any]) -> None:
        self._put("INSERT INTO hs_write (doc) VALUES (?)", dump(entry))

    def write_log(self) -> list[dict[str, Any]]:
        return [load(r[0]) for r in self.db.conn.execute("SELECT doc FROM hs_write ORDER BY seq")]

"""The HubSpot emulator's state: the narrow interface its routes and rules use, and the
in-memory portal behind it.

``PortalState`` is the whole contract: contacts (by id, by email, all), archive, companies and
their associations with contacts, lists and their memberships, campaigns, owners, email events
and the log of writes. Nothing else reaches into
the data, so another store (``sqlite_state.SqlitePortal``, a file shared by several processes)
stands in for ``MemoryPortal`` without a route changing. Values handed out are read-only views:
change them through the write methods (a list's ``members`` is a live view). Property values
are stored the way HubSpot returns them: strings, or None when unset.

In memory everything is keyed by native id in dicts, so batch endpoints cost O(batch) even with
10,000 contacts.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol, Self

Props = dict[str, str | None]


def iso(when: datetime) -> str:
    """HubSpot datetimes: ISO-8601 UTC with milliseconds and a ``Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return iso(datetime.now(UTC))


def to_prop(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class Contact:
    id: str
    props: Props
    created_at: str
    updated_at: str

    def copied(self) -> Self:
        """One of its own (``MemoryPortal.copy``); ``dataclasses.replace`` is 3x slower."""
        return type(self)(self.id, dict(self.props), self.created_at, self.updated_at)


class Company(Contact):
    """A company record: the same shape as a contact (id, properties, timestamps)."""


@dataclass
class PortalList:
    id: str
    name: str
    processing_type: str  # MANUAL | DYNAMIC | SNAPSHOT
    members: Mapping[str, str]  # contact id -> membership timestamp
    created_at: str
    updated_at: str
    version: int = 1


@dataclass
class PortalCampaign:
    guid: str
    name: str
    status: str
    start_date: str
    notes: str
    members: Mapping[str, str]  # contact id -> report contact type
    email_id: str | None
    email_campaign_id: str | None
    list_id: str | None
    created_at: str


@dataclass
class PortalOwner:
    id: str
    email: str
    first_name: str
    last_name: str
    archived: bool


@dataclass
class EmailEvent:
    id: str
    created_ms: int
    type: str
    recipient: str
    email_campaign_id: str | None
    extra: dict[str, Any] = field(default_factory=dict)

    def copied(self) -> EmailEvent:
        """One of its own (``MemoryPortal.copy``); ``dataclasses.replace`` is 3x slower."""
        return EmailEvent(
            self.id,
            self.created_ms,
            self.type,
            self.recipient,
            self.email_campaign_id,
            copy.deepcopy(self.extra) if self.extra else {},  # subscription changes nest lists
        )


class PortalState(Protocol):
    # contacts -------------------------------------------------------------------------------
    def contact(self, contact_id: str) -> Contact | None: ...

    def contacts(self) -> Iterable[Contact]: ...

    def ids_by_email(self, email: str) -> list[str]:
        """Live contacts with this address (case-blind), lowest id first."""
        ...

    def add_contact(self, contact: Contact) -> None: ...

    def save_contact(self, contact_id: str, props: Mapping[str, str | None], at: str) -> None:
        """Set these properties (None clears one) and the modification time."""
        ...

    def archive_contact(self, contact_id: str) -> None:
        """Archive a contact; it leaves every list."""
        ...

    def is_archived(self, contact_id: str) -> bool: ...

    def new_id(self, object_type: str) -> str:
        """An id no record of ``object_type`` (contacts, companies) has had, archived ones
        included."""
        ...

    # companies and their contacts -----------------------------------------------------------
    def company(self, company_id: str) -> Company | None: ...

    def companies(self) -> Iterable[Company]:
        """Every live company, by id."""
        ...

    def add_company(self, company: Company) -> None: ...

    def save_company(self, company_id: str, props: Mapping[str, str | None], at: str) -> None: ...

    def archive_company(self, company_id: str) -> None:
        """Archive a company; its associations go."""
        ...

    def link(self, contact_id: str, company_id: str, primary: bool) -> None:
        """Associate a contact with a company (primary: the contact's primary company)."""
        ...

    def unlink(self, contact_id: str, company_id: str) -> None: ...

    def companies_of(self, contact_id: str) -> dict[str, bool]:
        """company id -> primary, for each company the contact is associated with, by id."""
        ...

    def contacts_of(self, company_id: str) -> dict[str, bool]:
        """contact id -> primary, for each contact associated with the company, by id."""
        ...

    # lists ----------------------------------------------------------------------------------
    def list_by_id(self, list_id: str) -> PortalList | None: ...

    def lists(self) -> list[PortalList]:
        """Every list, by id."""
        ...

    def add_list(self, lst: PortalList) -> None: ...

    def remove_list(self, list_id: str) -> None:
        """Delete a list (HubSpot keeps it restorable for 90 days; the emulator does not)."""
        ...

    def set_members(
        self, list_id: str, added: Iterable[str], removed: Iterable[str], at: str
    ) -> None:
        """Add and remove members at ``at``; a change bumps the list's version."""
        ...

    # campaigns, owners, email events --------------------------------------------------------
    def campaign(self, guid: str) -> PortalCampaign | None: ...

    def campaigns(self) -> list[PortalCampaign]:
        """Every campaign, oldest first."""
        ...

    def add_campaign(self, campaign: PortalCampaign) -> None: ...

    def owners(self) -> list[PortalOwner]: ...

    def add_owner(self, owner: PortalOwner) -> None: ...

    def events(self) -> list[EmailEvent]:
        """Every email event, in the order added (the seed adds them oldest first)."""
        ...

    def add_event(self, event: EmailEvent) -> None: ...

    # what was written -----------------------------------------------------------------------
    def log_write(self, entry: dict[str, Any]) -> None: ...

    def write_log(self) -> list[dict[str, Any]]: ...


class MemoryPortal:
    """``PortalState`` in dicts."""

    def __init__(self) -> None:
        self._contacts: dict[str, Contact] = {}
        self._archived: dict[str, Contact] = {}
        self._companies: dict[str, Company] = {}
        self._links: dict[str, dict[str, bool]] = {}  # contact id -> company id -> primary
        self._highest = {"contacts": 0, "companies": 0}
        self._by_email: dict[str, set[str]] = {}
        self._lists: dict[str, PortalList] = {}
        self._list_members: dict[str, dict[str, str]] = {}
        self._campaigns: dict[str, PortalCampaign] = {}
        self._owners: dict[str, PortalOwner] = {}
        self._events: list[EmailEvent] = []
        self._writes: list[dict[str, Any]] = []

    def copy(self) -> MemoryPortal:
        """A portal of its own holding the same data (each fresh seeded state is one,
        ``seeded.py``): every record, list, membership, link and index new; the values in
        them, which nothing changes in place, shared. tests/sandbox/test_seeded_copies.py
        checks that nothing mutable is shared and that aliases (a list's ``members`` view)
        stay aliases."""
        new = MemoryPortal()
        new._contacts = {i: c.copied() for i, c in self._contacts.items()}
        new._archived = {i: c.copied() for i, c in self._archived.items()}
        new._companies = {i: c.copied() for i, c in self._companies.items()}
        new._links = {i: dict(links) for i, links in self._links.items()}
        new._highest = dict(self._highest)
        new._by_email = {k: set(v) for k, v in self._by_email.items()}
        new._list_members = {i: dict(m) for i, m in self._list_members.items()}
        new._lists = {
            i: replace(lst, members=new._list_members[i]) for i, lst in self._lists.items()
        }
        new._campaigns = {
            i: replace(c, members=dict(c.members)) for i, c in self._campaigns.items()
        }
        new._owners = {i: replace(o) for i, o in self._owners.items()}
        new._events = [e.copied() for e in self._events]
        new._writes = copy.deepcopy(self._writes)
        return new

    # contacts -------------------------------------------------------------------------------
    def contact(self, contact_id: str) -> Contact | None:
        return self._contacts.get(contact_id)

    def contacts(self) -> Iterable[Contact]:
        return self._contacts.values()

    def ids_by_email(self, email: str) -> list[str]:
        return sorted(self._by_email.get(email.strip().lower(), set()), key=int)

    def add_contact(self, contact: Contact) -> None:
        self._contacts[contact.id] = contact
        self._index(contact.id, contact.props.get("email"), add=True)
        self._seen("contacts", contact.id)

    def _seen(self, object_type: str, record_id: str) -> None:
        self._highest[object_type] = max(self._highest[object_type], int(record_id))

    def new_id(self, object_type: str) -> str:
        return str(self._highest[object_type] + 1)

    def save_contact(self, contact_id: str, props: Mapping[str, str | None], at: str) -> None:
        contact = self._contacts[contact_id]
        if "email" in props:
            self._index(contact_id, contact.props.get("email"), add=False)
            self._index(contact_id, props["email"], add=True)
        contact.props.update(props)
        contact.updated_at = at

    def archive_contact(self, contact_id: str) -> None:
        contact = self._contacts.pop(contact_id)
        self._archived[contact_id] = contact
        self._index(contact_id, contact.props.get("email"), add=False)
        for members in self._list_members.values():
            members.pop(contact_id, None)
        self._links.pop(contact_id, None)

    def is_archived(self, contact_id: str) -> bool:
        return contact_id in self._archived

    def _index(self, contact_id: str, email: str | None, *, add: bool) -> None:
        key = (email or "").strip().lower()
        if not key:
            return
        if add:
            self._by_email.setdefault(key, set()).add(contact_id)
        else:
            self._by_email.get(key, set()).discard(contact_id)

    # companies and their contacts -----------------------------------------------------------
    def company(self, company_id: str) -> Company | None:
        return self._companies.get(company_id)

    def companies(self) -> Iterable[Company]:
        return [self._companies[k] for k in sorted(self._companies, key=int)]

    def add_company(self, company: Company) -> None:
        self._companies[company.id] = company
        self._seen("companies", company.id)

    def save_company(self, company_id: str, props: Mapping[str, str | None], at: str) -> None:
        company = self._companies[company_id]
        company.props.update(props)
        company.updated_at = at

    def archive_company(self, company_id: str) -> None:
        del self._companies[company_id]
        for links in self._links.values():
            links.pop(company_id, None)

    def link(self, contact_id: str, company_id: str, primary: bool) -> None:
        links = self._links.setdefault(contact_id, {})
        links[company_id] = primary or links.get(company_id, False)

    def unlink(self, contact_id: str, company_id: str) -> None:
        self._links.get(contact_id, {}).pop(company_id, None)

    def companies_of(self, contact_id: str) -> dict[str, bool]:
        links = self._links.get(contact_id, {})
        return {k: links[k] for k in sorted(links, key=int)}

    def contacts_of(self, company_id: str) -> dict[str, bool]:
        found = {c: links[company_id] for c, links in self._links.items() if company_id in links}
        return {k: found[k] for k in sorted(found, key=int)}

    # lists ----------------------------------------------------------------------------------
    def list_by_id(self, list_id: str) -> PortalList | None:
        return self._lists.get(list_id)

    def lists(self) -> list[PortalList]:
        return sorted(self._lists.values(), key=lambda x: int(x.id))

    def add_list(self, lst: PortalList) -> None:
        members = dict(lst.members)
        self._list_members[lst.id] = members
        self._lists[lst.id] = replace(lst, members=members)

    def remove_list(self, list_id: str) -> None:
        self._lists.pop(list_id)
        self._list_members.pop(list_id, None)

    def set_members(
        self, list_id: str, added: Iterable[str], removed: Iterable[str], at: str
    ) -> None:
        lst, members = self._lists[list_id], self._list_members[list_id]
        new = [a for a in added if a not in members]
        gone = [r for r in removed if r in members]
        for rid in gone:
            del members[rid]
        members.update(dict.fromkeys(new, at))
        if new or gone:
            lst.version += 1
            lst.updated_at = at

    # campaigns, owners, email events --------------------------------------------------------
    def campaign(self, guid: str) -> PortalCampaign | None:
        return self._campaigns.get(guid)

    def campaigns(self) -> list[PortalCampaign]:
        return list(self._campaigns.values())

    def add_campaign(self, campaign: PortalCampaign) -> None:
        self._campaigns[campaign.guid] = campaign

    def owners(self) -> list[PortalOwner]:
        return sorted(self._owners.values(), key=lambda o: int(o.id))

    def add_owner(self, owner: PortalOwner) -> None:
        self._owners[owner.id] = owner

    def events(self) -> list[EmailEvent]:
        return self._events

    def add_event(self, event: EmailEvent) -> None:
        self._events.append(event)

    # what was written -----------------------------------------------------------------------
    def log_write(self, entry: dict[str, Any]) -> None:
        self._writes.append(entry)

    def write_log(self) -> list[dict[str, Any]]:
        return self._writes

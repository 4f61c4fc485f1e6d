"""The search filters no vendor search shares, evaluated by mopsgate on the records the vendor
returns: score range, title contains, email domain, updated since, not in a list; and the
group keys of a count.

They work the same on every connector because they are read through the field *roles* (the
vendor field that plays ``score``, ``title``, ``email``, ``updated_at``), never vendor names.
A filter or group on a field the principal may not read is refused: matching on a withheld
field would reveal what it withholds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from mopsgate.crm.records import Person
from mopsgate.governance.catalogue import Catalogue
from mopsgate.governance.errors import InvalidInput, NotPermitted
from mopsgate.governance.hygiene import clean_text
from mopsgate.governance.policy import FieldAccess

GroupBy = Literal["lifecycle_stage", "consent", "owner_id", "email_domain", "object"]
NO_VALUE = "(none)"


@dataclass(frozen=True)
class LocalFilters:
    """What mopsgate itself checks on each record; ``names`` says which, for the result."""

    score_min: float | None = None
    score_max: float | None = None
    title_contains: str | None = None
    email_domain: str | None = None
    updated_since: datetime | None = None
    not_in: frozenset[str] | None = None  # member refs of the excluded list

    @property
    def names(self) -> list[str]:
        named = {
            "score_min": self.score_min is not None,
            "score_max": self.score_max is not None,
            "title_contains": bool(self.title_contains),
            "email_domain": bool(self.email_domain),
            "updated_since": self.updated_since is not None,
            "not_in_list_ref": self.not_in is not None,
        }
        return [name for name, used in named.items() if used]

    def roles(self) -> list[str]:
        """The field roles these filters read."""
        wanted = {
            "score": self.score_min is not None or self.score_max is not None,
            "title": bool(self.title_contains),
            "email": bool(self.email_domain),
            "updated_at": self.updated_since is not None,
        }
        return [role for role, used in wanted.items() if used]


def domain_of(email: object) -> str:
    text = str(email or "").strip().casefold()
    return text.rpartition("@")[2] if "@" in text else ""


def normal_domain(domain: str) -> str:
    return domain.strip().casefold().removeprefix("@")


def as_number(value: object) -> float | None:
    try:
        return float(str(value))
    except ValueError:
        return None


def as_time(value: object) -> datetime | None:
    """Vendor timestamps: ISO 8601 with 'Z', an offset, or Salesforce's '+0000'."""
    text = str(value or "").strip()
    if not text:
        return None
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


class RoleReader:
    """Reads a person's value for a role, refusing roles the principal may not read."""

    def __init__(
        self, cat: Catalogue, connector: str, access: Callable[[str], FieldAccess]
    ) -> None:
        self.cat = cat
        self.connector = connector
        self.access = access

    def field(self, obj: str, role: str, why: str) -> str | None:
        name = self.cat.field_for(self.connector, obj, role)
        if name is not None and not self.access(obj).can_read(name):
            raise NotPermitted(
                f"{why} reads {self.connector} {obj} field {name!r}, which you may not read.",
                hint="Drop that filter or grouping; my_permissions shows what you may read.",
            )
        return name

    def value(self, person: Person, role: str, why: str) -> object:
        name = self.field(person.object, role, why)
        return person.fields.get(name) if name else None


def keeps(filters: LocalFilters, reader: RoleReader, person: Person) -> bool:
    """Whether ``person`` passes every local filter (a missing value never passes)."""
    if filters.not_in is not None and person.ref in filters.not_in:
        return False
    if filters.score_min is not None or filters.score_max is not None:
        score = as_number(reader.value(person, "score", "the score filter"))
        if score is None:
            return False
        if filters.score_min is not None and score < filters.score_min:
            return False
        if filters.score_max is not None and score > filters.score_max:
            return False
    if filters.title_contains:
        title = str(reader.value(person, "title", "title_contains") or "")
        if filters.title_contains.casefold() not in clean_text(title, 400).text.casefold():
            return False
    if filters.email_domain:
        email = reader.value(person, "email", "email_domain")
        if domain_of(email) != normal_domain(filters.email_domain):
            return False
    if filters.updated_since is not None:
        when = as_time(reader.value(person, "updated_at", "updated_since"))
        if when is None or when < filters.updated_since:
            return False
    return True


def group_key(by: GroupBy, reader: RoleReader, person: Person) -> str:
    """The group a person is counted in; values are cleaned (CRM free text) and PII-free:
    an email is grouped by its domain only."""
    if by == "consent":
        return person.consent.status
    if by == "object":
        return person.object
    if by == "email_domain":
        return domain_of(reader.value(person, "email", "group_by email_domain")) or NO_VALUE
    value = reader.value(person, by, f"group_by {by}")
    text = clean_text(str(value), 120).text if value not in (None, "") else ""
    return text or NO_VALUE


def check_range(score_min: float | None, score_max: float | None) -> None:
    if score_min is not None and score_max is not None and score_min > score_max:
        raise InvalidInput(
            f"score_min ({score_min:g}) is above score_max ({score_max:g}).",
            hint="Swap them, or drop one for an open range.",
        )

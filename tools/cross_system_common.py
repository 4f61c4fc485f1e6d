"""What resolve_person and find_cross_system_drift share: the fields compared across systems,
the order of consent statuses from worst, owners compared by email, and values shown as the
caller may see them.

A value the caller may not read is never compared: saying that two hidden values differ would
reveal them.
"""

from __future__ import annotations

from mopsgate.crm.connector import Connector
from mopsgate.crm.records import Owner, Person
from mopsgate.governance.hygiene import clean_text
from mopsgate.governance.pii import mask_value
from mopsgate.governance.policy import FieldAccess

# common-model field -> the role that holds it (consent is the verdict, not a field)
COMPARED: dict[str, str | None] = {
    "consent": None,
    "lifecycle_stage": "lifecycle_stage",
    "lead_status": "lead_status",
    "title": "title",
    "owner": "owner_id",
}
ShownValue = str | int | float | bool | None
ORDER = ("opted_out", "suppressed", "unknown", "subscribed")


class OwnerBook:
    """Owners per connector, read once per call: an owner is compared across systems by
    their email (the same employee has another id in each system)."""

    def __init__(self) -> None:
        self.owners: dict[str, dict[str, Owner]] = {}

    async def load(self, client: Connector) -> dict[str, Owner]:
        if client.name not in self.owners:
            self.owners[client.name] = {o.ref: o for o in await client.list_owners()}
        return self.owners[client.name]

    def shown(self, connector: str, ref: str | None) -> tuple[str | None, str | None]:
        """(what is shown, what is compared) for an owner reference."""
        if ref is None:
            return None, None
        owner = self.owners.get(connector, {}).get(ref)
        if owner is None:
            return ref, ref
        name = clean_text(owner.name, 200).text + ("" if owner.active else " (inactive)")
        return name, self.key(connector, ref)

    def key(self, connector: str, ref: str | None) -> str | None:
        """What an owner reference is compared on: the owner's email (else name), or the
        reference itself for an owner the connector did not list."""
        if ref is None:
            return None
        owner = self.owners.get(connector, {}).get(ref)
        if owner is None:
            return ref
        return (owner.email or owner.name).strip().casefold()


def compare_key(value: object) -> str | None:
    if value is None or value == "":
        return None
    return " ".join(str(value).split()).casefold()


def shown_value(person: Person, access: FieldAccess, name: str | None, value: object) -> ShownValue:
    if value is None:
        return None
    text: ShownValue = value if isinstance(value, (int, float, bool)) else str(value)
    if isinstance(text, str):
        text = clean_text(text, 500).text
    if name is not None and access.must_mask(name):
        return str(mask_value(name, text, None))
    return text

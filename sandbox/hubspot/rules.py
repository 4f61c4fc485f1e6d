"""What a HubSpot portal does when records change, over any ``PortalState``: contacts created
(with the properties HubSpot sets itself), property updates that record what changed, archive,
unsubscribe-from-all keyed by address, manual list membership, and companies created, updated
and archived. Every change lands in the write log tests read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from mopsgate.sandbox.hubspot.state import (
    Company,
    Contact,
    EmailEvent,
    PortalState,
    Props,
    now_iso,
)

Change = tuple[str | None, str | None]


def log(state: PortalState, kind: str, contact_id: str, detail: dict[str, Any]) -> None:
    state.log_write({"type": kind, "contactId": contact_id, "at": now_iso(), **detail})


def _new(props: Mapping[str, str | None], record_id: str, at: str, modified: str) -> Props:
    values = {k: (v if v != "" else None) for k, v in props.items()}
    return {**values, "hs_object_id": record_id, "createdate": at, modified: at}


def create_contact(state: PortalState, props: Mapping[str, str | None]) -> Contact:
    """A new contact under a never-used id ("" leaves a property unset)."""
    at, cid = now_iso(), state.new_id("contacts")
    contact = Contact(cid, _new(props, cid, at, "lastmodifieddate"), at, at)
    state.add_contact(contact)
    log(state, "created", cid, {})
    return contact


def create_company(state: PortalState, props: Mapping[str, str | None]) -> Company:
    at, cid = now_iso(), state.new_id("companies")
    company = Company(cid, _new(props, cid, at, "hs_lastmodifieddate"), at, at)
    state.add_company(company)
    state.log_write({"type": "company_created", "companyId": cid, "at": at})
    return company


def update_company(state: PortalState, company_id: str, props: Mapping[str, str | None]) -> Company:
    at = now_iso()
    values = {k: (v if v != "" else None) for k, v in props.items()}
    state.save_company(company_id, {**values, "hs_lastmodifieddate": at}, at)
    state.log_write({"type": "company_changed", "companyId": company_id, "at": at})
    company = state.company(company_id)
    assert company is not None  # just saved, in the same transaction
    return company


def archive_company(state: PortalState, company_id: str) -> None:
    state.archive_company(company_id)
    state.log_write({"type": "company_deleted", "companyId": company_id, "at": now_iso()})


def set_props(
    state: PortalState, contact_id: str, props: Mapping[str, str | None]
) -> dict[str, Change]:
    """Apply property values ("" clears one); returns what changed (old, new)."""
    contact = state.contact(contact_id)
    if contact is None:
        return {}
    changed: dict[str, Change] = {}
    for name, value in props.items():
        old = contact.props.get(name)
        new = value if value != "" else None
        if old != new:
            changed[name] = (old, new)
    if changed:
        at = now_iso()
        state.save_contact(
            contact_id,
            {**{k: new for k, (_old, new) in changed.items()}, "lastmodifieddate": at},
            at,
        )
        log(
            state,
            "field_changed",
            contact_id,
            {"changes": {k: {"from": old, "to": new} for k, (old, new) in changed.items()}},
        )
    return changed


def merge(state: PortalState, primary: str, secondary: str) -> None:
    """Merge two contacts: properties the primary leaves empty take the secondary's value, an
    opt-out on either stays, the secondary's list memberships move to the primary, and the
    secondary is archived (a merge cannot be undone through the API)."""
    keep = state.contact(primary)
    gone = state.contact(secondary)
    assert keep is not None and gone is not None
    fill = {
        k: v
        for k, v in gone.props.items()
        if v not in (None, "") and keep.props.get(k) in (None, "") and k != "hs_object_id"
    }
    if gone.props.get("hs_email_optout") == "true":
        fill["hs_email_optout"] = "true"
    if fill:
        set_props(state, primary, fill)
    at = now_iso()
    for lst in state.lists():
        if secondary in lst.members and primary not in lst.members:
            state.set_members(lst.id, [primary], [], at)
    state.archive_contact(secondary)
    log(state, "merged", primary, {"merged": secondary})


def archive(state: PortalState, contact_id: str) -> None:
    state.archive_contact(contact_id)
    log(state, "deleted", contact_id, {})


def unsubscribe_all(state: PortalState, email: str) -> list[str]:
    """Opt the address out of all email; every contact sharing it follows (HubSpot keys
    subscription status by address, not by record)."""
    touched = state.ids_by_email(email)
    for cid in touched:
        contact = state.contact(cid)
        if contact is not None and contact.props.get("hs_email_optout") != "true":
            set_props(state, cid, {"hs_email_optout": "true"})
    if touched:
        ms = int(datetime.now(UTC).timestamp() * 1000)
        state.add_event(
            EmailEvent(
                f"statuschange-{len(state.events())}",
                ms,
                "STATUSCHANGE",
                email,
                None,
                {
                    "subscriptions": [{"id": "all", "status": "UNSUBSCRIBED"}],
                    "source": "SOURCE_API",
                },
            )
        )
        for cid in touched:
            log(state, "unsubscribed", cid, {"email": email})
    return touched


def change_membership(
    state: PortalState, list_id: str, record_ids: list[str], *, adding: bool, failing: set[str]
) -> tuple[list[str], list[str]]:
    """Add or remove contacts of a manual list: (changed, missing). Already-members (add) and
    non-members (remove) are neither: the end state is what was asked."""
    lst = state.list_by_id(list_id)
    if lst is None:
        return [], list(record_ids)
    changed, missing = [], []
    for rid in record_ids:
        if state.contact(rid) is None or rid in failing:
            missing.append(rid)
        elif adding != (rid in lst.members) and rid not in changed:
            changed.append(rid)
            log(state, "list_added" if adding else "list_removed", rid, {"listId": list_id})
    stamp = now_iso()
    state.set_members(list_id, changed if adding else [], [] if adding else changed, stamp)
    return changed, missing

"""What a HubSpot portal does when records change, over any ``PortalState``: property updates
that record what changed, archive, unsubscribe-from-all keyed by address, and manual list
membership. Every change lands in the write log tests read.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from mopsgate.sandbox.hubspot.state import EmailEvent, PortalState, now_iso

Change = tuple[str | None, str | None]


def log(state: PortalState, kind: str, contact_id: str, detail: dict[str, Any]) -> None:
    state.log_write({"type": kind, "contactId": contact_id, "at": now_iso(), **detail})


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

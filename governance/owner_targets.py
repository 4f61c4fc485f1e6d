"""Owners a plan hands records to, re-checked when it is applied.

An owner can leave between the proposal and the apply (approval takes hours or days). Some
vendors refuse a record routed to an inactive owner (Salesforce, HubSpot), but Marketo accepts
any sales person id, so the records would silently land with someone who cannot work them —
the very problem a reassignment fixes. So every owner a plan writes into an owner field must
still be an active owner of that connector at apply, or the change is stale, naming the owner.
"""

from __future__ import annotations

from mopsgate.crm.connector import Connector
from mopsgate.crm.refs import parse_ref
from mopsgate.governance.change_model import Change
from mopsgate.governance.manifest_model import Manifest


def owner_values(change: Change, manifest: Manifest) -> dict[str, list[str]]:
    """Owner id written -> the records the plan hands to it."""
    cat = manifest.catalogue
    out: dict[str, list[str]] = {}
    for rec in change.plan.effective_records:
        ref = parse_ref(rec.ref)
        field = cat.field_for(ref.connector, ref.object, "owner_id")
        for c in rec.changes:
            if field is not None and c.field == field and c.after not in (None, ""):
                out.setdefault(str(c.after), []).append(rec.ref)
    return out


async def inactive_owners(client: Connector, change: Change, manifest: Manifest) -> list[str]:
    """A drift line per owner the plan writes who is no longer an active owner (or no owner)."""
    wanted = owner_values(change, manifest)
    if not wanted:
        return []
    owners = {parse_ref(o.ref).id: o for o in await client.list_owners()}
    out: list[str] = []
    for native, refs in sorted(wanted.items()):
        owner = owners.get(native)
        if owner is not None and owner.active:
            continue
        who = f"{owner.name} ({owner.ref})" if owner else f"owner id {native!r}"
        state = "is no longer an active owner" if owner else "is no longer an owner"
        out.append(f"{who} {state} on {client.name}; {len(refs)} record(s) would be routed to them")
    return out

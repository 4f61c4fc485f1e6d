"""Owners: who they are, how much each owns, and moving one owner's people to another.

Reassigning owners after someone leaves is a lifecycle change (owner is a routing field), so it
is a proposal like any other: batched under the record cap of the caller's rule and their
hourly limit (the proposal says how many more are left for the next batch, once this one is
applied), reviewed, applied once. An inactive target owner is refused before anything is
planned: records routed to someone who left are the problem being fixed, not a fix.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, Field

from mopsgate.crm.connector import Connector
from mopsgate.crm.records import Owner, Person, PersonQuery
from mopsgate.crm.refs import parse_ref
from mopsgate.governance.catalogue import Catalogue
from mopsgate.governance.errors import InvalidInput, NotPermitted
from mopsgate.governance.hygiene import clean_text
from mopsgate.governance.pii import mask_email
from mopsgate.governance.planning import PlanInput
from mopsgate.governance.policy import rate_limit, record_cap
from mopsgate.governance.risk import RiskClass
from mopsgate.tools.change_views import ProposalOut
from mopsgate.tools.common import (
    ConnectorName,
    Ref,
    connector,
    list_ref,
    person_objects,
    read_access,
    readable_objects,
    same_connector,
)
from mopsgate.tools.spec import ConnectorNeed, Target, ToolContext, ToolInput, ToolSpec
from mopsgate.tools.writes import Reason, proposal_spec, propose

MAX_SCAN = 20_000
OwnerRef = Annotated[
    str,
    Field(
        pattern=r"^(marketo|hubspot|salesforce):[A-Za-z_]{1,40}:[A-Za-z0-9-]{1,64}$",
        description="an owner reference from list_owners, e.g. 'hubspot:owner:70003' (not a name)",
    ),
]


def owner_fields(cat: Catalogue, conn: str) -> frozenset[str]:
    """The vendor field that holds the owner on each person object of the connector."""
    return frozenset(
        name for obj in cat.person_objects[conn] if (name := cat.field_for(conn, obj, "owner_id"))
    )


def _refuse_inactive(owners: dict[str, Owner], target: Owner | None, ref: str) -> None:
    """An owner that left cannot be handed records: refused before anything is planned."""
    if target is not None and target.active:
        return
    active = ", ".join(f"{o.name} = {o.ref}" for o in owners.values() if o.active)
    who = f"{target.name} ({target.ref})" if target else ref
    raise InvalidInput(
        f"{who} is not an active owner: records would be routed to someone who cannot work them.",
        hint=f"Pick an active owner (list_owners): {active}.",
    )


async def follow_up_reassign(ctx: ToolContext, inputs: list[PlanInput]) -> None:
    """A revert or finish of propose_reassign_owner: the tool's grant covers its own undo and
    rest, and every owner it would hand records to must still be active."""
    cat = ctx.manifest.catalogue
    for inp in inputs:
        inp.grants = owner_fields(cat, inp.connector)
        client = connector(ctx, inp.connector)
        owners = {o.ref: o for o in await client.list_owners()}
        by_native = {parse_ref(o.ref).id: o for o in owners.values()}
        for value in {str(v) for fields in inp.updates.values() for v in fields.values()}:
            _refuse_inactive(owners, by_native.get(value), value)


class OwnersIn(ToolInput):
    connector: ConnectorName
    record_counts: bool = Field(
        True,
        description="count each owner's people (HubSpot: a search per owner; Marketo: pages "
        "through each owner's leads; Salesforce: one aggregate query per person object)",
    )

    def target(self) -> Target:
        return Target(self.connector)


class OwnerOut(BaseModel):
    ref: str = Field(description="pass to propose_reassign_owner as from_owner / to_owner")
    name: str
    email: str | None = Field(description="masked unless your use case may see PII")
    active: bool = Field(description="false: left the company or deactivated")
    record_count: int | None = Field(description="people this owner owns; null if not counted")


class OwnersOut(BaseModel):
    connector: str
    owners: list[OwnerOut]
    people_with_inactive_owner: int | None
    counted_objects: list[str] = Field(
        default_factory=list,
        description="the person objects the record counts cover: those whose owner field you "
        "may read",
    )
    not_counted: dict[str, str] = Field(
        default_factory=dict,
        description="person objects left out of the counts, and why (you may not read them, "
        "or not their owner field)",
    )


def _countable(ctx: ToolContext, conn: str) -> tuple[list[str], dict[str, str], bool]:
    """The person objects whose owners the caller may count (the object and its owner field
    readable: a count over records one may not read would reveal them), the others with the
    reason, and whether owner emails may be shown whole (only when every object read says so)."""
    cat = ctx.manifest.catalogue
    every = cat.person_objects[conn]
    allowed = readable_objects(ctx, conn, every, "list_owners")
    counted: list[str] = []
    skipped = {o: "you may not use list_owners on this object" for o in every if o not in allowed}
    unmasked = True
    for obj in allowed:
        access = read_access(ctx, conn, obj, "list_owners")
        unmasked = unmasked and access.unmasked_pii
        field = cat.field_for(conn, obj, "owner_id")
        if field is not None and not access.can_read(field):
            skipped[obj] = access.denied.get(field, f"{field} is not in your readable fields")
        else:
            counted.append(obj)
    return counted, skipped, unmasked


async def list_owners(ctx: ToolContext, args: OwnersIn) -> OwnersOut:
    client = connector(ctx, args.connector)
    counted, skipped, unmasked = _countable(ctx, args.connector)
    owners = await client.list_owners()
    counts = None
    if args.record_counts and counted:
        whole = len(counted) == len(ctx.manifest.catalogue.person_objects[args.connector])
        counts = await client.owner_record_counts(None if whole else counted)
    out = [
        OwnerOut(
            ref=o.ref,
            name=clean_text(o.name, 200).text,
            email=(o.email if unmasked else mask_email(o.email)) if o.email else None,
            active=o.active,
            record_count=None if counts is None else counts.get(o.ref, 0),
        )
        for o in owners
    ]
    inactive = None if counts is None else sum(counts.get(o.ref, 0) for o in owners if not o.active)
    ctx.notes.summary = f"{len(out)} owners" + (
        f", {inactive} people with an inactive owner" if inactive is not None else ""
    )
    return OwnersOut(
        connector=args.connector,
        owners=out,
        people_with_inactive_owner=inactive,
        counted_objects=counted if counts is not None else [],
        not_counted=skipped,
    )


class ReassignIn(ToolInput):
    connector: ConnectorName
    from_owner: OwnerRef
    to_owner: OwnerRef
    object: str | None = Field(
        None, description="only this person object (Salesforce: Lead or Contact); default all"
    )
    lifecycle_stage: str | None = Field(
        None, max_length=60, description="only people at this stage"
    )
    list_ref: Ref | None = Field(None, description="only people in this list")
    reason: Reason

    def target(self) -> Target:
        return Target(self.connector, self.object)


def _owner(owners: dict[str, Owner], ref: str, role: str) -> Owner:
    """The owner named by ``ref``; a name or unknown id is an input error that shows the
    references to use."""
    found = owners.get(ref)
    if found is not None:
        return found
    named = [o for o in owners.values() if o.name.casefold() in ref.casefold()]
    hint = (
        f"{role} takes an owner reference, not a name: {named[0].name} is {named[0].ref}."
        if named
        else "Owners: " + ", ".join(f"{o.name} = {o.ref}" for o in owners.values()) + "."
    )
    raise InvalidInput(f"{ref!r} is not an owner on this connector.", hint=hint)


async def _owned(
    client: Connector, args: ReassignIn, objects: tuple[str, ...], want: int
) -> tuple[list[Person], int]:
    """The first ``want`` records owned by ``from_owner`` (matching the filters), and how many
    there are in all (counted up to ``MAX_SCAN``). The search returns whole records, which
    the plan takes rather than reading them again."""
    refs: list[Person] = []
    total = 0
    for obj in objects:
        query = PersonQuery(
            object=obj,
            owner_id=args.from_owner,
            lifecycle_stage=args.lifecycle_stage,
            list_ref=args.list_ref,
        )
        cursor: str | None = None
        while total < MAX_SCAN:
            page = await client.search_people(
                query, cursor=cursor, limit=client.capabilities.search_page
            )
            mine = [p for p in page.items if p.object == obj]
            total += len(mine)
            refs += mine[: max(0, want - len(refs))]
            cursor = page.next_cursor
            if not cursor:
                break
    return refs, total


async def propose_reassign_owner(ctx: ToolContext, args: ReassignIn) -> ProposalOut:
    cat = ctx.manifest.catalogue
    if args.list_ref:
        same_connector(args.connector, list_ref(cat, args.list_ref))
    client = connector(ctx, args.connector)
    owners = {o.ref: o for o in await client.list_owners()}
    source = _owner(owners, args.from_owner, "from_owner")
    target = _owner(owners, args.to_owner, "to_owner")
    if source.ref == target.ref:
        raise InvalidInput("from_owner and to_owner are the same owner.", hint="Pick another.")
    _refuse_inactive(owners, target, target.ref)
    cap = record_cap(ctx.manifest, ctx.principal, args.connector, RiskClass.LIFECYCLE)
    if cap == 0:
        raise NotPermitted(
            f"you may not propose lifecycle changes on {args.connector}.",
            hint='Ask the manifest owner for a rule with modes.lifecycle = "propose".',
            rule_id="default-deny",
        )
    now = datetime.now(UTC)
    used = await ctx.changes.store.records_proposed_last_hour(ctx.principal, now)
    hourly = rate_limit(ctx.manifest, ctx.principal).records_per_hour - used
    batch = max(1, min(cap, hourly))
    every = person_objects(cat, args.connector, args.object)
    objects = readable_objects(ctx, args.connector, every, "propose_reassign_owner")
    owned, total = await _owned(client, args, objects, batch)
    refs = [p.ref for p in owned]
    if not refs:
        raise InvalidInput(
            f"{source.name} owns no {'/'.join(objects)} records matching these filters.",
            hint="list_owners shows how many people each owner has.",
        )
    native = parse_ref(target.ref).id
    inp = PlanInput(
        operation="update_fields",
        connector=args.connector,
        updates={
            ref: {str(cat.field_for(args.connector, parse_ref(ref).object, "owner_id")): native}
            for ref in refs
        },
        grants=owner_fields(cat, args.connector),
        known={p.ref: p for p in owned},
    )
    out = await propose(ctx, "propose_reassign_owner", args.reason, inp, RiskClass.LIFECYCLE)
    left = total - len(refs)
    if left > 0:
        out = out.model_copy(
            update={
                "next_steps": out.next_steps
                + f" This is one batch of {len(refs)} (your cap per change is {cap}, and "
                f"{max(0, hourly - len(refs))} more records may be proposed by you this hour); "
                f"{left} more records owned by {source.name} match. Once this change is "
                "applied, call propose_reassign_owner again with the same arguments for the "
                "next batch."
            }
        )
    ctx.notes.summary += f"; {left} more to reassign in later batches" if left > 0 else ""
    return out


OWNER_TOOLS = (
    ToolSpec(
        "list_owners",
        "List owners",
        "Use before reassigning records, or to find people owned by someone who left: every "
        "owner (user / sales person) of one connector with its reference, name, email (masked "
        "unless you may see PII), whether it is active, and how many people it owns.",
        OwnersIn,
        OwnersOut,
        list_owners,
        RiskClass.READ,
        ConnectorNeed.ARGUMENT,
    ),
    proposal_spec(
        "propose_reassign_owner",
        "Propose reassigning an owner's people",
        "Use when someone leaves or territories change: moves the people owned by from_owner "
        "(optionally only one object, lifecycle stage or list) to to_owner, both owner "
        "references from list_owners. A lifecycle change, batched under your record cap and "
        "hourly limit: the proposal covers the first batch and says how many remain. Refused "
        "for an inactive to_owner.",
        ReassignIn,
        propose_reassign_owner,
        RiskClass.LIFECYCLE,
    ),
)

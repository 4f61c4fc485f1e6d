"""Builds a plan from live data: read every target, diff, classify, check the floor.

Nothing here writes upstream: a plan only reads (batched, so a 10,000-person plan costs the
minimum vendor calls) and returns data. Membership and campaign status are recorded in the
before-image under the pseudo-fields ``__member__`` and ``__status__`` so apply can detect drift
in them the same way as in real fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import JsonValue

from mopsgate.crm.capabilities import Capabilities
from mopsgate.crm.connector import Connector
from mopsgate.crm.records import Campaign, FieldInfo, Person
from mopsgate.crm.refs import parse_ref
from mopsgate.governance import send_lists
from mopsgate.governance.change_model import BlockedRecord, FieldChange, Plan, PlannedRecord
from mopsgate.governance.consent_floor import Block, express_consent, floor_blocks, person_blocks
from mopsgate.governance.errors import (
    FloorViolation,
    InvalidInput,
    NotSupported,
    UpstreamFailure,
)
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.plan_checks import check_update_fields
from mopsgate.governance.policy import FieldAccess
from mopsgate.governance.progress import Steps, advance
from mopsgate.governance.risk import RiskClass

MEMBER = "__member__"
STATUS = "__status__"


@dataclass
class PlanInput:
    operation: str
    connector: str
    refs: list[str] = field(default_factory=list)
    updates: dict[str, dict[str, JsonValue]] = field(default_factory=dict)  # ref -> field -> value
    target: str | None = None
    params: dict[str, JsonValue] = field(default_factory=dict)
    # Fields the proposing tool itself is granted to write, beyond the manifest's write_fields:
    # propose_reassign_owner writes the owner field, and its grant is the tool (a field deny
    # still wins). Not part of the plan: it only widens what this proposal may touch.
    grants: frozenset[str] = frozenset()
    # Records the proposing tool read moments ago with the same fields a batch read returns
    # (the owner search of a reassignment, the address lookup of a change across connectors):
    # the plan takes them instead of reading them again. Not part of the plan; apply re-reads
    # every target whatever the plan took.
    known: dict[str, Person] = field(default_factory=dict)
    # True when ``known`` holds every record of its people's addresses (a lookup by address
    # found them): the floor's same-address lookup is then not made again at plan time.
    known_addresses: bool = False


async def read_people(
    client: Connector,
    refs: Sequence[str],
    steps: Steps | None = None,
    doing: str = "planning",
    *,
    known: Mapping[str, Person] | None = None,
) -> dict[str, Person]:
    """Batch reads grouped by object and cut at the vendor's read batch, so a plan of N people
    costs the minimum number of vendor calls (a mix of person objects read in one chunk would
    cost a query per object per chunk on vendors that keep them apart). ``steps`` hears of
    every batch read (``doing`` says what the reads are for). ``known``: records read moments
    ago (``PlanInput.known``), taken instead of read; only a plan passes them."""
    out: dict[str, Person] = {r: known[r] for r in refs if known and r in known}
    by_object: dict[str, list[str]] = {}
    for ref in refs:
        if ref not in out:
            by_object.setdefault(parse_ref(ref).object, []).append(ref)
    size = max(1, client.capabilities.read_batch)
    read = 0
    for group in by_object.values():
        for start in range(0, len(group), size):
            chunk = group[start : start + size]
            out.update(await client.get_people(chunk))
            read += len(chunk)
            await advance(steps, len(chunk), f"{doing}: {read} of {len(refs)} records read")
    return out


MAX_PAGES = 10_000


class _Paging:
    """Follows a vendor's cursors to the end, or refuses: a cursor seen before (a loop) or more
    than MAX_PAGES pages means the scan is not complete, and a plan made on part of a list's
    members would be wrong (catalogue U-13). Nothing partial is ever returned."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.seen: set[str] = set()

    def next(self, cursor: str | None) -> str | None:
        if cursor is not None and (cursor in self.seen or len(self.seen) >= MAX_PAGES):
            why = "repeats a cursor" if cursor in self.seen else f"runs past {MAX_PAGES} pages"
            raise UpstreamFailure(
                f"the vendor's paging of {self.what} {why}, so it could not be read completely.",
                hint="Nothing was planned or written on partial data. Try again later; if it "
                "persists, ask the platform owner to check the connector.",
            )
        if cursor is not None:
            self.seen.add(cursor)
        return cursor


async def list_member_refs(client: Connector, list_ref: str) -> set[str]:
    """Every member of the list, by reference only (a call per member page, no record read)."""
    members: set[str] = set()
    paging, cursor = _Paging(f"the members of {list_ref}"), None
    while True:
        page = await client.list_member_ids(
            list_ref, cursor=cursor, limit=client.capabilities.member_page
        )
        members.update(page.items)
        if (cursor := paging.next(page.next_cursor)) is None:
            return members


async def campaign_statuses(client: Connector, campaign_ref: str) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    paging, cursor = _Paging(f"the members of {campaign_ref}"), None
    while True:
        page = await client.campaign_members(
            campaign_ref, cursor=cursor, limit=client.capabilities.campaign_member_page
        )
        out.update({m.person_ref: m.status for m in page.items})
        if (cursor := paging.next(page.next_cursor)) is None:
            return out


async def send_list_floor(
    client: Connector,
    manifest: Manifest,
    list_ref: str,
    people: Iterable[Person],
    same_address: Iterable[Person] | None = None,
) -> tuple[str | None, dict[str, Block]]:
    """Whether adding ``people`` to ``list_ref`` is a send the floor polices — why, in the words
    a blocked record gives, or None — and who it blocks from it.

    Two reads decide: which lists feed sends (the campaign scan, a call per campaign on
    Marketo) and every other record of the people's addresses (``floor_blocks``, a call per
    100-300 people). The answer is the same in either order; the order only saves calls. If
    someone is blocked by their own record the scan is needed anyway, so it goes first and the
    lookup runs only for a send list. Otherwise the lookup goes first, and the scan runs only
    if it blocked someone (nobody blocked: whether the list feeds sends does not matter)."""
    people = list(people)
    express = express_consent(manifest, client.name)
    if any(person_blocks(p, express) for p in people):
        lists = await send_lists.scan(client, manifest)
        if not lists.feeds_sends(list_ref):
            return None, {}
        return lists.why(list_ref), await floor_blocks(client, people, express, same_address)
    blocks = await floor_blocks(client, people, express, same_address)
    if not blocks:
        return None, {}
    lists = await send_lists.scan(client, manifest)
    return (lists.why(list_ref), blocks) if lists.feeds_sends(list_ref) else (None, {})


async def schedule_audience(client: Connector, campaign: Campaign) -> dict[str, Person]:
    """Everyone a scheduled run of ``campaign`` would email. Refused (fail closed) when that
    cannot be established: an email campaign with no single, resolved audience list."""
    may_email = campaign.sends_email is not False  # unknown is a send (fail closed)
    if may_email and not (campaign.audience_list_ref and campaign.audience_known):
        raise FloorViolation(
            f"the audience of {campaign.name!r} cannot be established, so a schedule cannot be "
            "checked against the compliance floor.",
            hint="Give the campaign a single 'member of list' audience, or schedule it by hand "
            "in the vendor's UI after checking its audience.",
            rule_id="compliance-floor",
        )
    if not campaign.audience_list_ref:
        return {}
    refs = sorted(await list_member_refs(client, campaign.audience_list_ref))
    return await read_people(client, refs)


def consent_image(person: Person) -> dict[str, JsonValue]:
    return dict(person.consent.evidence)


def missing(refs: Sequence[str], people: dict[str, Person]) -> list[BlockedRecord]:
    return [
        BlockedRecord(ref=r, reason_code="not_found", reason="no such record")
        for r in refs
        if r not in people
    ]


def plan_updates(
    inp: PlanInput,
    people: dict[str, Person],
    described: dict[str, dict[str, FieldInfo]],
    access: dict[str, FieldAccess],
) -> tuple[Plan, RiskClass]:
    records: list[PlannedRecord] = []
    lifecycle = False
    for ref, values in inp.updates.items():
        person = people.get(ref)
        if person is None:
            continue
        fields = described[person.object]
        check_update_fields(
            values, values, fields, access[person.object], f"{inp.connector} {person.object}"
        )
        lifecycle = lifecycle or any(fields[f].lifecycle for f in values)
        before = {f: person.fields.get(f) for f in values}
        changes = [
            FieldChange(field=f, before=before[f], after=v)
            for f, v in values.items()
            if before[f] != v
        ]
        records.append(
            PlannedRecord(
                ref=ref,
                action="update" if changes else "noop",
                before={**before, **consent_image(person)},
                changes=changes,
            )
        )
    plan = Plan(
        operation="update_fields",
        connector=inp.connector,
        records=records,
        blocked=missing(list(inp.updates), people),
    )
    return plan, RiskClass.LIFECYCLE if lifecycle else RiskClass.UPDATE_FIELDS


def plan_membership(
    inp: PlanInput,
    people: dict[str, Person],
    members: set[str],
    sends: str | None,
    blocks: Mapping[str, Block],
) -> Plan:
    """``sends``: why the target list counts as a send list, or None when it does not;
    ``blocks``: who the floor blocks from a send (``consent_floor.floor_blocks``)."""
    adding = inp.operation == "add_to_list"
    records: list[PlannedRecord] = []
    blocked = missing(inp.refs, people)
    for ref in inp.refs:
        person = people.get(ref)
        if person is None:
            continue
        if adding and sends and (why := blocks.get(ref)):
            blocked.append(BlockedRecord(ref=ref, reason_code=why[0], reason=f"{why[1]}; {sends}"))
            continue
        is_member = ref in members
        noop = is_member if adding else not is_member
        records.append(
            PlannedRecord(
                ref=ref,
                action="noop" if noop else ("add" if adding else "remove"),
                before={MEMBER: is_member, **consent_image(person)},
                changes=[] if noop else [FieldChange(field=MEMBER, before=is_member, after=adding)],
            )
        )
    return Plan(
        operation=inp.operation,
        connector=inp.connector,
        target=inp.target,
        records=records,
        blocked=blocked,
    )


def plan_campaign_status(
    inp: PlanInput,
    people: dict[str, Person],
    campaign: Campaign,
    statuses: dict[str, str | None],
    caps: Capabilities,
) -> Plan:
    """Statuses to set, with what the vendor would do to non-members said in the plan:
    joined with the status (``join``) where the vendor adds them, blocked with the add to
    propose first where it refuses; and, where progression only moves forward, a status at or
    below the member's current one blocked rather than refused at apply."""
    status = str(inp.params.get("status", ""))
    ladder = [s.name for s in campaign.status_ladder]
    if not ladder:
        raise NotSupported(
            f"{campaign.name!r} has no member status ladder, so a member status cannot be set "
            "through the API.",
            hint="Use a campaign whose get_campaign shows a status_ladder.",
        )
    if status not in ladder:
        raise InvalidInput(
            f"{status!r} is not a status of {campaign.name!r}.",
            hint=f"Statuses: {', '.join(ladder)}.",
        )
    step = {s.name: s.step for s in campaign.status_ladder}
    records = []
    blocked = missing(inp.refs, people)
    for ref in inp.refs:
        if ref not in people:
            continue
        member = ref in statuses
        before = statuses.get(ref)
        if not member and not caps.status_adds_members:
            blocked.append(_not_a_member(ref, campaign))
            continue
        if member and before == status:
            action = "noop"
        elif (
            member and caps.status_forward_only and before in step and step[before] >= step[status]
        ):
            blocked.append(
                BlockedRecord(
                    ref=ref,
                    reason_code="status_backwards",
                    reason=f"already at {before!r}, at or past {status!r}; "
                    f"{inp.connector} only moves a member's status forward",
                )
            )
            continue
        else:
            action = "set_status" if member else "join"
        records.append(
            PlannedRecord(
                ref=ref,
                action=action,
                before={STATUS: before, **consent_image(people[ref])},
                changes=[]
                if action == "noop"
                else [FieldChange(field=STATUS, before=before, after=status)],
            )
        )
    if not records and blocked and all(b.reason_code == "not_a_member" for b in blocked):
        raise InvalidInput(
            f"none of these people is a member of {campaign.name!r}, and {inp.connector} sets a "
            "status only on members.",
            hint=f"Add them first with propose_add_to_list (list_ref {inp.target}), then "
            "propose the status again.",
        )
    return Plan(
        operation="set_campaign_status",
        connector=inp.connector,
        target=inp.target,
        params={"status": status},
        records=records,
        blocked=blocked,
    )


def _not_a_member(ref: str, campaign: Campaign) -> BlockedRecord:
    return BlockedRecord(
        ref=ref,
        reason_code="not_a_member",
        reason=f"not a member of {campaign.name!r}, and the vendor sets a status only on "
        f"members: add them first (propose_add_to_list with list_ref {campaign.ref})",
    )


def plan_per_person(
    inp: PlanInput, people: dict[str, Person], blocks: Mapping[str, Block] | None = None
) -> Plan:
    """trigger_campaign, opt_out, delete_person: one action per person; ``blocks`` (sends
    only): who the floor blocks (``consent_floor.floor_blocks``)."""
    action = {"trigger_campaign": "trigger", "opt_out": "opt_out", "delete_person": "delete"}[
        inp.operation
    ]
    records: list[PlannedRecord] = []
    blocked = missing(inp.refs, people)
    for ref in inp.refs:
        person = people.get(ref)
        if person is None:
            continue
        if blocks and (why := blocks.get(ref)):
            blocked.append(BlockedRecord(ref=ref, reason_code=why[0], reason=why[1]))
            continue
        before = consent_image(person)
        changes: list[FieldChange] = []
        noop = False
        if action == "opt_out":
            noop = person.consent.email_opt_out is True
            changes = (
                []
                if noop
                else [
                    FieldChange(
                        field="email_opt_out", before=person.consent.email_opt_out, after=True
                    )
                ]
            )
        elif action == "delete":
            before = dict(person.fields)
        records.append(
            PlannedRecord(
                ref=ref, action="noop" if noop else action, before=before, changes=changes
            )
        )
    return Plan(
        operation=inp.operation,
        connector=inp.connector,
        target=inp.target,
        params=dict(inp.params),
        records=records,
        blocked=blocked,
    )


def require_capability(caps: Capabilities, operation: str, connector: str) -> None:
    """Refuse, before reading anything, what the vendor's API cannot do at all."""
    if operation == "trigger_campaign" and not caps.can_trigger:
        raise NotSupported(
            f"campaigns on {connector} cannot be triggered through its API.",
            hint="Sends run inside the vendor; ask its owner, or use a connector that can.",
        )
    if operation == "schedule_campaign" and not caps.can_schedule:
        raise NotSupported(
            f"campaigns on {connector} cannot be scheduled through its API.",
            hint="Schedules are set inside the vendor; ask its owner.",
        )
    if operation == "merge_people" and not caps.can_merge:
        raise NotSupported(
            f"{connector} has no merge endpoint mopsgate can use.",
            hint="Merge these records in the vendor's own UI; find_duplicates lists them.",
        )
    if operation == "set_campaign_status" and not caps.can_set_campaign_status:
        raise NotSupported(
            f"campaigns on {connector} have no member status ladder, so a member status "
            "cannot be set through the API.",
            hint="Use campaign_performance to read how members are attributed.",
        )


def require_campaign(campaign: Campaign, operation: str) -> None:
    if operation == "trigger_campaign" and not campaign.triggerable:
        raise NotSupported(
            f"{campaign.name!r} cannot be triggered through the API.",
            hint="Pick a campaign whose 'triggerable' is true (list_campaigns).",
        )
    if operation == "schedule_campaign" and not campaign.schedulable:
        raise NotSupported(
            f"{campaign.name!r} cannot be scheduled through the API.",
            hint="Pick a campaign whose 'schedulable' is true (list_campaigns).",
        )

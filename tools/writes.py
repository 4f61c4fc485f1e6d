"""Propose tools: each only plans. Nothing upstream changes until a human approves the change
(in the review console, or the reviewer CLI) and the assistant applies it with its
confirmation token. The result says where the change is reviewed, never how to approve it: that
is a human's act, and an assistant told the command might try it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from mopsgate.crm.refs import parse_ref
from mopsgate.governance.catalogue import Catalogue
from mopsgate.governance.planning import PlanInput
from mopsgate.governance.proposing import Proposal, Proposer, blocked_refs, repeated
from mopsgate.governance.risk import RiskClass
from mopsgate.tools.change_views import ProposalOut, change_out, review_page
from mopsgate.tools.common import ConnectorName, Ref, connector, person_ref, split_ref
from mopsgate.tools.spec import (
    ConnectorNeed,
    Handler,
    In,
    Target,
    ToolContext,
    ToolInput,
    ToolSpec,
)

Reason = Annotated[
    str,
    Field(
        min_length=8,
        max_length=1000,
        description=("what the user asked for, in their words; shown to the reviewer"),
    ),
]


def once_each(refs: list[str]) -> list[str]:
    """Refuse a record named twice (before ``propose_update_person`` turns the list into a
    mapping and would silently merge the two)."""
    if dupes := repeated(refs):
        raise PydanticCustomError(
            "duplicate_refs",
            "the same record is listed more than once: {dupes}; list each record once",
            {"dupes": dupes},
        )
    return refs


def refs_field(max_length: int) -> FieldInfo:
    info: FieldInfo = Field(
        min_length=1, max_length=max_length, json_schema_extra={"uniqueItems": True}
    )
    return info


Refs = Annotated[list[Ref], refs_field(10_000), AfterValidator(once_each)]
# A field value or campaign token. Bounded in the schema, so an oversized argument is refused
# before any vendor is read (catalogue I-04); planning has the same per-field limit.
Text = Annotated[str, Field(max_length=2000)]
Value = Text | int | float | bool | None


async def propose(
    ctx: ToolContext,
    tool: str,
    reason: str,
    inp: PlanInput | Sequence[PlanInput],
    risk: RiskClass,
    revert_of: str | None = None,
    finish_of: str | None = None,
) -> ProposalOut:
    """Plan, store and hand back one change; a sequence of inputs (one per connector) makes
    one change across those connectors (``governance/across.py``)."""
    proposer: Proposer = ctx.changes.proposer
    inputs = [inp] if isinstance(inp, PlanInput) else list(inp)
    proposal: Proposal = await proposer.propose_across(
        manifest=ctx.manifest,
        digest=ctx.manifest_digest,
        principal=ctx.principal,
        tool=tool,
        reason=reason,
        clients={i.connector: connector(ctx, i.connector) for i in inputs},
        inputs=inputs,
        risk=risk,
        revert_of=revert_of,
        finish_of=finish_of,
        use_case=ctx.use_case,
        progress=ctx.progress,
    )
    change = proposal.change
    ctx.notes.change_id = change.id
    ctx.notes.connector = change.connector
    ctx.notes.use_case = change.use_case
    ctx.notes.records = tuple(
        dict.fromkeys([*(r.ref for r in change.plan.records), *(b.ref for b in change.blocked)])
    )
    ctx.notes.summary = (
        f"proposed {change.id}: {change.plan.operation}, "
        f"{change.plan.summary.records} records, {len(change.plan.blocked)} "
        f"blocked, {change.approvals_required.count} approval(s) needed"
    )
    if change.plan.blocked:
        ctx.notes.summary += f"; blocked: {blocked_refs(change.plan.blocked)}"
    first = change.plan.records[0].ref if change.plan.records else None
    access = None
    if first:
        conn, obj, _ = parse_ref(first)
        if obj in ctx.manifest.catalogue.objects.get(conn, {}):
            access = ctx.field_access(conn, obj)
    url = review_page(ctx, change.id)
    shown = change_out(change, access, ctx.manifest, proposal=True, review_url=url)
    return ProposalOut(
        **{**dict(shown), "next_steps": shown.next_steps or ""},
        confirmation_token=proposal.token,
        applies_frozen=proposal.frozen_note,
        review_url=url,
    )


class UpdatePersonIn(ToolInput):
    refs: Refs
    fields: dict[str, Value] = Field(
        min_length=1, max_length=50, description="field name -> new value (vendor field names)"
    )
    reason: Reason

    def target(self) -> Target:
        return Target.of(*self.refs)


async def propose_update_person(ctx: ToolContext, args: UpdatePersonIn) -> ProposalOut:
    conn = {person_ref(ctx.manifest.catalogue, r)[0] for r in args.refs}
    if len(conn) != 1:
        from mopsgate.governance.errors import InvalidInput

        raise InvalidInput("all people must be on one connector.", hint="Split by connector.")
    inp = PlanInput(
        operation="update_fields",
        connector=conn.pop(),
        updates={r: dict(args.fields) for r in args.refs},
    )
    return await propose(ctx, "propose_update_person", args.reason, inp, RiskClass.UPDATE_FIELDS)


class ListChangeIn(ToolInput):
    list_ref: Ref
    person_refs: Refs
    reason: Reason

    def target(self) -> Target:
        return Target.of(self.list_ref)


def _list_input(cat: Catalogue, op: str, args: ListChangeIn) -> PlanInput:
    conn, _, _ = split_ref(cat, args.list_ref)
    return PlanInput(
        operation=op, connector=conn, refs=list(args.person_refs), target=args.list_ref
    )


async def propose_add_to_list(ctx: ToolContext, args: ListChangeIn) -> ProposalOut:
    return await propose(
        ctx,
        "propose_add_to_list",
        args.reason,
        _list_input(ctx.manifest.catalogue, "add_to_list", args),
        RiskClass.AUDIENCE,
    )


async def propose_remove_from_list(ctx: ToolContext, args: ListChangeIn) -> ProposalOut:
    return await propose(
        ctx,
        "propose_remove_from_list",
        args.reason,
        _list_input(ctx.manifest.catalogue, "remove_from_list", args),
        RiskClass.AUDIENCE,
    )


class CampaignStatusIn(ToolInput):
    campaign_ref: Ref
    person_refs: Refs
    status: str = Field(min_length=1, max_length=80)
    reason: Reason

    def target(self) -> Target:
        return Target.of(self.campaign_ref)


async def propose_set_campaign_status(ctx: ToolContext, args: CampaignStatusIn) -> ProposalOut:
    conn, _, _ = split_ref(ctx.manifest.catalogue, args.campaign_ref)
    inp = PlanInput(
        operation="set_campaign_status",
        connector=conn,
        refs=list(args.person_refs),
        target=args.campaign_ref,
        params={"status": args.status},
    )
    return await propose(ctx, "propose_set_campaign_status", args.reason, inp, RiskClass.LIFECYCLE)


class TriggerIn(ToolInput):
    campaign_ref: Ref
    person_refs: Annotated[list[Ref], refs_field(1000), AfterValidator(once_each)]
    tokens: dict[str, Text] = Field(default_factory=dict, max_length=20)
    reason: Reason

    def target(self) -> Target:
        return Target.of(self.campaign_ref)


async def propose_trigger_campaign(ctx: ToolContext, args: TriggerIn) -> ProposalOut:
    conn, _, _ = split_ref(ctx.manifest.catalogue, args.campaign_ref)
    inp = PlanInput(
        operation="trigger_campaign",
        connector=conn,
        refs=list(args.person_refs),
        target=args.campaign_ref,
        params={"tokens": dict(args.tokens)},
    )
    return await propose(ctx, "propose_trigger_campaign", args.reason, inp, RiskClass.SEND)


class ScheduleIn(ToolInput):
    campaign_ref: Ref
    run_at: datetime = Field(description="when to run, ISO 8601 with time zone")
    tokens: dict[str, Text] = Field(default_factory=dict, max_length=20)
    reason: Reason

    @field_validator("run_at")
    @classmethod
    def _future(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("run_at needs a time zone, e.g. 2026-12-01T09:00:00+00:00")
        if value <= datetime.now(UTC):
            raise ValueError("run_at must be in the future")
        return value

    def target(self) -> Target:
        return Target.of(self.campaign_ref)


async def propose_schedule_campaign(ctx: ToolContext, args: ScheduleIn) -> ProposalOut:
    conn, _, _ = split_ref(ctx.manifest.catalogue, args.campaign_ref)
    inp = PlanInput(
        operation="schedule_campaign",
        connector=conn,
        target=args.campaign_ref,
        params={"run_at": args.run_at.isoformat(), "tokens": dict(args.tokens)},
    )
    return await propose(ctx, "propose_schedule_campaign", args.reason, inp, RiskClass.SEND)


class PeopleIn(ToolInput):
    connector: ConnectorName
    person_refs: Refs
    reason: Reason

    def target(self) -> Target:
        return Target(self.connector).or_(Target.of(*self.person_refs))


async def propose_opt_out(ctx: ToolContext, args: PeopleIn) -> ProposalOut:
    inp = PlanInput(operation="opt_out", connector=args.connector, refs=list(args.person_refs))
    return await propose(ctx, "propose_opt_out", args.reason, inp, RiskClass.CONSENT)


async def propose_delete_person(ctx: ToolContext, args: PeopleIn) -> ProposalOut:
    inp = PlanInput(
        operation="delete_person", connector=args.connector, refs=list(args.person_refs)
    )
    return await propose(ctx, "propose_delete_person", args.reason, inp, RiskClass.DELETE)


def proposal_spec(
    name: str,
    title: str,
    desc: str,
    i: type[In],
    h: Handler[In, ProposalOut],
    risk: RiskClass,
    needs: ConnectorNeed = ConnectorNeed.ARGUMENT,
) -> ToolSpec[In, ProposalOut]:
    """A propose tool; ``risk`` is the class of the change it plans (``propose_update_person``
    is reclassified per field at plan time; follow-ups take the original's)."""
    return ToolSpec(
        name,
        title,
        desc + " Only plans: nothing changes until a human approves and you call apply_change.",
        i,
        ProposalOut,
        h,
        risk,
        needs,
    )


WRITE_TOOLS = (
    proposal_spec(
        "propose_update_person",
        "Propose a field update",
        "Propose new values for fields of "
        "one or many people (same connector). Returns the field-level diff from live data.",
        UpdatePersonIn,
        propose_update_person,
        RiskClass.UPDATE_FIELDS,
    ),
    proposal_spec(
        "propose_add_to_list",
        "Propose adding to a list",
        "Propose adding people to a static "
        "list. People who may not be emailed are blocked from lists that feed sends.",
        ListChangeIn,
        propose_add_to_list,
        RiskClass.AUDIENCE,
    ),
    proposal_spec(
        "propose_remove_from_list",
        "Propose removing from a list",
        "Propose removing people from a static list.",
        ListChangeIn,
        propose_remove_from_list,
        RiskClass.AUDIENCE,
    ),
    proposal_spec(
        "propose_set_campaign_status",
        "Propose campaign member status",
        "Propose a new campaign member status (must be on the campaign's status ladder).",
        CampaignStatusIn,
        propose_set_campaign_status,
        RiskClass.LIFECYCLE,
    ),
    proposal_spec(
        "propose_trigger_campaign",
        "Propose triggering a campaign",
        "Propose running a "
        "triggerable campaign for people. Opted-out, suppressed and unknown-consent people "
        "are blocked. Needs two approvals, one from compliance.",
        TriggerIn,
        propose_trigger_campaign,
        RiskClass.SEND,
    ),
    proposal_spec(
        "propose_schedule_campaign",
        "Propose scheduling a campaign",
        "Propose scheduling a "
        "campaign run. Refused while its audience holds anyone who may not be emailed.",
        ScheduleIn,
        propose_schedule_campaign,
        RiskClass.SEND,
    ),
    proposal_spec(
        "propose_opt_out",
        "Propose an opt-out",
        "Propose recording an email opt-out. Opting people in is not offered.",
        PeopleIn,
        propose_opt_out,
        RiskClass.CONSENT,
    ),
    proposal_spec(
        "propose_delete_person",
        "Propose deleting people",
        "Propose deleting people "
        "(denied unless the manifest allows it; never applied without approval).",
        PeopleIn,
        propose_delete_person,
        RiskClass.DELETE,
    ),
)

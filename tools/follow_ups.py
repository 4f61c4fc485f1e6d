"""Proposals that follow up an earlier change of the caller's: its revert, or its finish.

Both are built from the change's own record (before-images, per-record results) rather than
from what the assistant asks for, and both go through the same planning, floor and review as
any proposal. Only the requester of the original may propose either.
"""

from __future__ import annotations

from pydantic import Field

from mopsgate.governance import across
from mopsgate.governance.change_model import Change
from mopsgate.governance.errors import NotPermitted
from mopsgate.governance.finishing import finish_input
from mopsgate.governance.ports import ChangeStore
from mopsgate.governance.reverting import revert_input
from mopsgate.governance.risk import RiskClass
from mopsgate.tools.change_views import ProposalOut
from mopsgate.tools.owners import follow_up_reassign
from mopsgate.tools.spec import ConnectorNeed, ToolContext, ToolInput
from mopsgate.tools.writes import Reason, proposal_spec, propose


class FollowUpIn(ToolInput):
    change_id: str = Field(pattern=r"^chg_[0-9a-f]{12}$")
    reason: Reason


async def _own(ctx: ToolContext, change_id: str, what: str) -> Change:
    store: ChangeStore = ctx.changes.store
    original = await store.require(change_id)
    if original.use_case is not None:  # a revert or a finish serves the original's purpose
        ctx.use_case = original.use_case
    if original.requester != ctx.principal:
        raise NotPermitted(
            f"{change_id} was proposed by another principal.",
            hint=f"Only the requester of a change can propose its {what}.",
        )
    return original


async def _linked(ctx: ToolContext, change_id: str | None) -> Change | None:
    store: ChangeStore = ctx.changes.store
    return await store.get(change_id) if change_id else None


async def propose_revert(ctx: ToolContext, args: FollowUpIn) -> ProposalOut:
    original = await _own(ctx, args.change_id, "revert")
    store: ChangeStore = ctx.changes.store
    previous = await _linked(ctx, original.reverted_by)
    written = await store.written_refs(original.id)
    inp = [
        revert_input(part, written, previous)
        for part in across.parts(original)
        if written & {r.ref for r in part.plan.effective_records} or part is original
    ] or [revert_input(original, written, previous)]  # nothing written: says so
    if original.tool == "propose_reassign_owner":
        await follow_up_reassign(ctx, inp)
    return await propose(
        ctx, "propose_revert", args.reason, inp, original.risk_class, revert_of=original.id
    )


async def propose_finish(ctx: ToolContext, args: FollowUpIn) -> ProposalOut:
    original = await _own(ctx, args.change_id, "finish")
    previous = await _linked(ctx, original.finished_by)
    done = {r.ref for r in original.outcome.records if r.ok}
    inp = [
        finish_input(part, previous)
        for part in across.parts(original)
        if {r.ref for r in part.plan.effective_records} - done or part is original
    ] or [finish_input(original, previous)]  # nothing left: says so
    if original.tool == "propose_reassign_owner":
        await follow_up_reassign(ctx, inp)
    return await propose(
        ctx, "propose_finish", args.reason, inp, original.risk_class, finish_of=original.id
    )


FOLLOW_UP_TOOLS = (
    proposal_spec(
        "propose_revert",
        "Propose reverting a change",
        "Propose the inverse of a change you "
        "applied, built from its before-images. Goes through the same review.",
        FollowUpIn,
        propose_revert,
        RiskClass.UPDATE_FIELDS,
        ConnectorNeed.STORED_CHANGE,
    ),
    proposal_spec(
        "propose_finish",
        "Propose finishing a failed change",
        "Propose the rest of a change of yours that failed part-way (an upstream failure, or "
        "a server stopped mid-apply): the same operation on exactly its records that were not "
        "written, planned against live data. Goes through the same review; the failed change "
        "itself is never applied again.",
        FollowUpIn,
        propose_finish,
        RiskClass.UPDATE_FIELDS,
        ConnectorNeed.STORED_CHANGE,
    ),
)

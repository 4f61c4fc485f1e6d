"""The change lifecycle as the requester sees it: inspect, list, cancel, apply.

There is no approve tool: approval happens out of band, by a human, in the reviewer CLI.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field

from mopsgate.governance.applying import Applier
from mopsgate.governance.caller import Caller
from mopsgate.governance.change_model import Change, ChangeStatus
from mopsgate.governance.errors import NotFound
from mopsgate.governance.ports import ChangeStore
from mopsgate.governance.risk import RiskClass
from mopsgate.tools.change_views import ChangeOut, change_out, review_page, shown_status
from mopsgate.tools.common import connector
from mopsgate.tools.spec import (
    ConnectorNeed,
    Handler,
    In,
    Out,
    ToolContext,
    ToolInput,
    ToolSpec,
)

ChangeId = Annotated[
    str, Field(pattern=r"^chg_[0-9a-f]{12}$", description="a change id such as chg_0123456789ab")
]


async def _own(ctx: ToolContext, change_id: str) -> Change:
    """A principal only sees its own changes; someone else's is reported as not found."""
    store: ChangeStore = ctx.changes.store
    change = await store.get(change_id)
    if change is None or change.requester != ctx.principal:
        raise NotFound(
            f"there is no change {change_id} of yours.", hint="list_my_changes shows your changes."
        )
    return change


def _out(ctx: ToolContext, change: Change) -> ChangeOut:
    ctx.notes.change_id = change.id
    ctx.notes.use_case = change.use_case
    ctx.notes.summary = f"{change.id}: {change.status}"
    return change_out(change, None, ctx.manifest, review_url=review_page(ctx, change.id))


class ChangeIn(ToolInput):
    change_id: ChangeId


async def get_change(ctx: ToolContext, args: ChangeIn) -> ChangeOut:
    return _out(ctx, await _own(ctx, args.change_id))


class ListMineIn(ToolInput):
    status: ChangeStatus | None = None
    limit: int = Field(20, ge=1, le=100)


class ChangeLine(BaseModel):
    change_id: str
    status: str
    risk_class: str
    operation: str
    connector: str
    records: int
    created_at: str
    reason: str


class ChangeList(BaseModel):
    changes: list[ChangeLine]


async def list_my_changes(ctx: ToolContext, args: ListMineIn) -> ChangeList:
    store: ChangeStore = ctx.changes.store
    changes = await store.list_changes(
        status=args.status, requester=ctx.principal, limit=args.limit
    )
    ctx.notes.summary = f"{len(changes)} changes"
    return ChangeList(
        changes=[
            ChangeLine(
                change_id=c.id,
                status=shown_status(c),
                risk_class=str(c.risk_class),
                operation=c.plan.operation,
                connector=c.connector,
                records=len(c.plan.records),
                created_at=c.created_at.isoformat(),
                reason=c.reason,
            )
            for c in changes
        ]
    )


async def cancel_change(ctx: ToolContext, args: ChangeIn) -> ChangeOut:
    await _own(ctx, args.change_id)
    store: ChangeStore = ctx.changes.store
    change = await store.cancel(args.change_id, ctx.principal, "cancelled by the requester")
    return _out(ctx, change)


class ApplyIn(ToolInput):
    change_id: ChangeId
    confirmation_token: str = Field(min_length=10, max_length=2000)


async def apply_change(ctx: ToolContext, args: ApplyIn) -> ChangeOut:
    store: ChangeStore = ctx.changes.store
    change = await store.get(args.change_id)
    if change is None:
        raise NotFound(
            f"there is no change {args.change_id}.", hint="list_my_changes shows your changes."
        )
    ctx.notes.change_id = change.id
    ctx.notes.connector = change.connector
    ctx.notes.use_case = change.use_case
    applier: Applier = ctx.changes.applier
    result = await applier.apply(
        change_id=args.change_id,
        token=args.confirmation_token,
        caller=Caller(ctx.principal, ctx.transport),
        manifest=ctx.manifest,
        digest=ctx.manifest_digest,
        clients=lambda name: connector(ctx, name),
        progress=ctx.progress,
    )
    return _out(ctx, result)


def _spec(
    name: str,
    title: str,
    desc: str,
    i: type[In],
    o: type[Out],
    h: Handler[In, Out],
    risk: RiskClass = RiskClass.READ,
    needs: ConnectorNeed = ConnectorNeed.NONE,
) -> ToolSpec[In, Out]:
    """The requester's bookkeeping reads and cancels only the change store (risk read, no
    connector); apply_change says otherwise."""
    return ToolSpec(name, title, desc, i, o, h, risk, needs)


CHANGE_TOOLS = (
    _spec(
        "get_change",
        "Get a change",
        "Status, diff, approvals (and who can give them) and outcome of one of your changes. "
        "It cannot return the confirmation token: that is shown once, in the proposal; if it "
        "is lost, cancel_change the change and propose it again.",
        ChangeIn,
        ChangeOut,
        get_change,
    ),
    _spec(
        "list_my_changes",
        "List my changes",
        "Your changes, newest first, optionally by status ('failed' includes changes shown as "
        "partially_applied). Tokens are never listed.",
        ListMineIn,
        ChangeList,
        list_my_changes,
    ),
    _spec(
        "cancel_change",
        "Cancel a change",
        "Withdraw one of your changes that is proposed or approved but not applied.",
        ChangeIn,
        ChangeOut,
        cancel_change,
    ),
    _spec(
        "apply_change",
        "Apply an approved change",
        "Apply one of your approved changes with "
        "its confirmation token. Refused if it is not approved, the token is wrong, applies "
        "are frozen, or anything it planned against has changed (stale). Writes exactly the "
        "approved diff, once.",
        ApplyIn,
        ChangeOut,
        apply_change,
        RiskClass.UPDATE_FIELDS,
        ConnectorNeed.STORED_CHANGE,
    ),
)

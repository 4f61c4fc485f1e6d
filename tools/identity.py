"""``whoami`` and ``my_permissions``: the assistant can ask what it is and what it may do, so it
can plan within its rights instead of discovering them by being refused."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from mopsgate.governance.cadence import overdue, review_status, utc_today
from mopsgate.governance.policy import explain
from mopsgate.governance.risk import RiskClass
from mopsgate.tools.spec import ConnectorNeed, ToolContext, ToolInput, ToolSpec


class NoInput(ToolInput):
    pass


class UseCaseInfo(BaseModel):
    name: str
    purpose: str
    risk_level: str
    review_date: str | None
    review: Literal["current", "overdue", "enforced"] = Field(
        description="current; overdue (past review_date); enforced (past the grace period, "
        "and on_overdue refuses calls)"
    )
    on_overdue: str = Field(description="warn | propose_only (no applies) | deny (no calls)")
    review_note: str | None = Field(
        default=None, description="What the overdue review means for your calls, if overdue."
    )
    owners: dict[str, str]


class WhoAmI(BaseModel):
    principal: str
    use_cases: list[UseCaseInfo]
    connectors: dict[str, str] = Field(description="connector -> environment (sandbox|production)")
    manifest_digest: str


class PermissionRow(BaseModel):
    tool: str
    risk_class: str
    connector: str
    mode: str
    fields: str
    approvals: str
    record_cap: str


class MyPermissions(BaseModel):
    principal: str
    rows: list[PermissionRow]
    note: str
    overdue_reviews: list[str] = Field(
        default_factory=list,
        description="Use cases of yours whose review is overdue, and what that stops.",
    )


async def whoami(ctx: ToolContext, _: NoInput) -> WhoAmI:
    m = ctx.manifest
    principal = m.principals[ctx.principal]
    cases = []
    today = utc_today()
    for name in principal.use_cases:
        uc = m.use_cases[name]
        owners: dict[str, Any] = uc.owners.model_dump(exclude_none=True)
        status = review_status(name, uc, today)
        cases.append(
            UseCaseInfo(
                name=name,
                purpose=uc.purpose,
                risk_level=str(uc.risk_level),
                review_date=str(uc.review_date) if uc.review_date else None,
                review=status.state,
                on_overdue=uc.on_overdue,
                review_note=status.describe() if status.overdue else None,
                owners={k: str(v) for k, v in owners.items()},
            )
        )
    ctx.notes.summary = f"{len(cases)} use case(s)"
    return WhoAmI(
        principal=ctx.principal,
        use_cases=cases,
        connectors={name: str(c.environment) for name, c in m.connectors.items()},
        manifest_digest=ctx.manifest_digest,
    )


async def my_permissions(ctx: ToolContext, _: NoInput) -> MyPermissions:
    today = utc_today()
    mine = ctx.manifest.principals[ctx.principal].use_cases
    late = [s for s in overdue(ctx.manifest, today) if s.use_case in mine]
    rows = [
        PermissionRow(
            tool=r.tool,
            risk_class=str(ctx.manifest.catalogue.tools.get(r.tool, RiskClass.READ)),
            connector=r.connector or "-",
            mode=str(r.mode),
            fields=r.fields,
            approvals=str(r.approvals),
            record_cap=str(r.cap),
        )
        for r in explain(ctx.manifest, ctx.principal, today=today)
    ]
    ctx.notes.summary = f"{len(rows)} grant row(s)"
    return MyPermissions(
        principal=ctx.principal,
        rows=rows,
        note="Writes are always proposals: a human reviewer approves each change before it "
        "can be applied with its confirmation token.",
        overdue_reviews=[s.describe() for s in late],
    )


IDENTITY_TOOLS = (
    ToolSpec(
        name="whoami",
        title="Who am I",
        description="Returns the principal this session acts as, its use cases (purpose, "
        "owners, review date and whether the review is overdue, with what that stops) and the "
        "environment of each connector (sandbox or production).",
        input_model=NoInput,
        output_model=WhoAmI,
        handler=whoami,
        risk=RiskClass.READ,
        needs=ConnectorNeed.NONE,
    ),
    ToolSpec(
        name="my_permissions",
        title="My permissions",
        description="Lists this principal's effective rights: per tool and connector the mode, "
        "readable fields, approvals needed and record caps. Use it before planning a change.",
        input_model=NoInput,
        output_model=MyPermissions,
        handler=my_permissions,
        risk=RiskClass.READ,
        needs=ConnectorNeed.NONE,
    ),
)

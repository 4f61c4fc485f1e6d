"""Read tools about one person (get, describe their fields) and the API budget; and the list of
every people tool in the order they are offered (search and consent have modules of their own)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from mopsgate.crm.records import ApiBudget
from mopsgate.governance.errors import InvalidInput
from mopsgate.governance.hygiene import clean_text
from mopsgate.governance.policy import field_access
from mopsgate.governance.risk import RiskClass
from mopsgate.tools.common import (
    ConnectorName,
    Ref,
    connector,
    person_object,
    person_ref,
    read_access,
)
from mopsgate.tools.consent_state import CONSENT_STATE_TOOL
from mopsgate.tools.search_people import SEARCH_PEOPLE_TOOL
from mopsgate.tools.shaping import InjectionScan, PersonOut, shape_person
from mopsgate.tools.spec import ConnectorNeed, Target, ToolContext, ToolInput, ToolSpec


class GetPersonIn(ToolInput):
    ref: Ref
    fields: list[str] | None = Field(
        None, max_length=100, description="only these fields (default: all you may read)"
    )

    def target(self) -> Target:
        return Target.of(self.ref)


async def get_person(ctx: ToolContext, args: GetPersonIn) -> PersonOut:
    conn, obj = person_ref(ctx.manifest.catalogue, args.ref)
    access = read_access(ctx, conn, obj, "get_person")
    wanted = None
    if args.fields:
        described = [f.name for f in await connector(ctx, conn).describe_fields(obj)]
        unknown = sorted(set(args.fields) - set(described))
        if unknown:
            raise InvalidInput(
                f"unknown field(s) on {conn} {obj}: {', '.join(unknown)}.",
                hint=f"Fields of {conn} {obj}: {', '.join(described)}.",
            )
        wanted = frozenset(args.fields)
    person = await connector(ctx, conn).get_person(args.ref)
    scan = InjectionScan()
    scan.see(person)
    ctx.notes.summary = f"read {args.ref}{scan.note()}"
    return shape_person(person, access, wanted)


class DescribeIn(ToolInput):
    connector: ConnectorName
    object: str | None = Field(
        None, description="person object; default: the connector's first (Salesforce: Lead)"
    )

    def target(self) -> Target:
        return Target(self.connector, self.object)


class FieldOut(BaseModel):
    name: str
    label: str
    type: str
    pii: bool
    consent: bool
    read_only: bool
    lifecycle: bool
    readable_by_you: bool
    writable_by_you: bool = Field(
        description="whether propose_update_person may change this field for you"
    )


class DescribeOut(BaseModel):
    connector: str
    object: str
    fields: list[FieldOut]


def writable_fields(ctx: ToolContext, connector_name: str, obj: str) -> frozenset[str]:
    """What ``propose_update_person`` would let this principal change on ``obj``: the write
    rules' fields, and only when a rule lets it propose there at all (the describe rule itself
    grants no writes, so asking it would say "nothing is writable" to everyone)."""
    from mopsgate.governance.policy import decide

    tool = "propose_update_person"
    if not decide(
        ctx.manifest, ctx.principal, tool, connector_name, obj, use_case=ctx.use_case
    ).allowed:
        return frozenset()
    return field_access(ctx.manifest, ctx.principal, connector_name, obj, tool).writable


async def describe_fields(ctx: ToolContext, args: DescribeIn) -> DescribeOut:
    obj = person_object(ctx.manifest.catalogue, args.connector, args.object)
    access = read_access(ctx, args.connector, obj, "describe_fields")
    writable = writable_fields(ctx, args.connector, obj)
    infos = await connector(ctx, args.connector).describe_fields(obj)
    out = [
        FieldOut(
            name=f.name,
            label=clean_text(f.label, 200).text,
            type=f.type,
            pii=f.pii or f.name in access.pii_fields,
            consent=f.consent,
            read_only=f.read_only,
            lifecycle=f.lifecycle,
            readable_by_you=access.can_read(f.name),
            writable_by_you=f.name in writable and not f.read_only,
        )
        for f in infos
    ]
    ctx.notes.summary = f"{len(out)} fields"
    return DescribeOut(connector=args.connector, object=obj, fields=out)


class BudgetIn(ToolInput):
    connector: ConnectorName

    def target(self) -> Target:
        return Target(self.connector)


async def api_budget(ctx: ToolContext, args: BudgetIn) -> ApiBudget:
    budget = await connector(ctx, args.connector).api_budget()
    ctx.notes.summary = f"{args.connector} budget"
    return budget


PEOPLE_TOOLS = (
    SEARCH_PEOPLE_TOOL,
    ToolSpec(
        "get_person",
        "Get a person",
        "Read one person by reference ('<connector>:<object>:<id>'), optionally only some "
        "fields. Withheld, masked and cleaned fields are reported.",
        GetPersonIn,
        PersonOut,
        get_person,
        RiskClass.READ,
        ConnectorNeed.ARGUMENT,
    ),
    ToolSpec(
        "describe_fields",
        "Describe person fields",
        "List a person object's fields with type, PII and consent classification, "
        "read-only flags, and whether you may read or propose changes to each.",
        DescribeIn,
        DescribeOut,
        describe_fields,
        RiskClass.READ,
        ConnectorNeed.ARGUMENT,
    ),
    CONSENT_STATE_TOOL,
    ToolSpec(
        "api_budget",
        "API budget",
        "How much of the vendor's API allowance is used and left, and how many calls mopsgate "
        "made.",
        BudgetIn,
        ApiBudget,
        api_budget,
        RiskClass.READ,
        ConnectorNeed.ARGUMENT,
    ),
)

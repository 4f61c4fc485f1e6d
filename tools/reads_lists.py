"""Read tools about lists, memberships, campaigns, activities and the API budget."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from connectors.model import Activity, ApiBudget, Campaign, CampaignMember, PersonList
from tools.common import (
    ConnectorName,
    Cursor,
    Limit,
    Ref,
    connector,
    person_ref,
    split_ref,
)
from tools.names import TOOL_RISK
from tools.paging import bounded_page
from tools.reads_people import PeoplePage
from tools.shaping import clean_value, shape_person
from tools.spec import StrictInput, ToolContext, ToolSpec


def _clean_list(item: PersonList) -> PersonList:
    cleaned: list[Any] = []
    return item.model_copy(
        update={
            "name": clean_value("name", item.name, cleaned),
            "description": clean_value("description", item.description, cleaned),
        }
    )


class ListListsIn(StrictInput):
    connector: ConnectorName
    name_contains: str | None = Field(None, max_length=120)
    limit: Limit = 50
    cursor: Cursor = None


class ListsPage(BaseModel):
    items: list[PersonList]
    next_cursor: str | None
    truncated_by_size: bool = False


async def list_lists(ctx: ToolContext, args: ListListsIn) -> ListsPage:
    client = connector(ctx, args.connector)

    async def fetch(cur: str | None, limit: int) -> Any:
        return await client.list_lists(cursor=cur, limit=limit, name_contains=args.name_contains)

    items, nxt, cut = await bounded_page(
        fetch, _clean_list, cursor=args.cursor, limit=args.limit, query=args.name_contains
    )
    ctx.notes.summary = f"{len(items)} lists"
    return ListsPage(items=items, next_cursor=nxt, truncated_by_size=cut)


class ListMembersIn(StrictInput):
    list_ref: Ref
    limit: Limit = 50
    cursor: Cursor = None


async def list_members(ctx: ToolContext, args: ListMembersIn) -> PeoplePage:
    conn, _, _ = split_ref(args.list_ref)
    client = connector(ctx, conn)
    shape_cache: dict[str, Any] = {}

    def shape(person: Any) -> Any:
        key = person.object
        if key not in shape_cache:
            shape_cache[key] = ctx.field_access(conn, person.object)
        return shape_person(person, shape_cache[key])

    async def fetch(cur: str | None, limit: int) -> Any:
        return await client.list_members(args.list_ref, cursor=cur, limit=limit)

    items, nxt, cut = await bounded_page(
        fetch, shape, cursor=args.cursor, limit=args.limit, query=args.list_ref
    )
    ctx.notes.summary = f"{len(items)} members of {args.list_ref}"
    return PeoplePage(items=items, next_cursor=nxt, truncated_by_size=cut)


class MembershipsIn(StrictInput):
    person_ref: Ref


class MembershipsOut(BaseModel):
    person_ref: str
    lists: list[PersonList]
    campaigns: list[CampaignMember]


async def get_person_memberships(ctx: ToolContext, args: MembershipsIn) -> MembershipsOut:
    conn, _ = person_ref(args.person_ref)
    result = await connector(ctx, conn).person_memberships(args.person_ref)
    ctx.notes.summary = f"{len(result.lists)} lists, {len(result.campaigns)} campaigns"
    return MembershipsOut(
        person_ref=args.person_ref,
        lists=[_clean_list(x) for x in result.lists],
        campaigns=result.campaigns,
    )


class ListCampaignsIn(StrictInput):
    connector: ConnectorName
    limit: Limit = 50
    cursor: Cursor = None


class CampaignsPage(BaseModel):
    items: list[Campaign]
    next_cursor: str | None
    truncated_by_size: bool = False


def _clean_campaign(item: Campaign) -> Campaign:
    return item.model_copy(update={"name": clean_value("name", item.name, [])})


async def list_campaigns(ctx: ToolContext, args: ListCampaignsIn) -> CampaignsPage:
    client = connector(ctx, args.connector)

    async def fetch(cur: str | None, limit: int) -> Any:
        return await client.list_campaigns(cursor=cur, limit=limit)

    items, nxt, cut = await bounded_page(
        fetch, _clean_campaign, cursor=args.cursor, limit=args.limit, query=args.connector
    )
    ctx.notes.summary = f"{len(items)} campaigns"
    return CampaignsPage(items=items, next_cursor=nxt, truncated_by_size=cut)


class CampaignIn(StrictInput):
    campaign_ref: Ref


async def get_campaign(ctx: ToolContext, args: CampaignIn) -> Campaign:
    conn, _, _ = split_ref(args.campaign_ref)
    campaign = await connector(ctx, conn).get_campaign(args.campaign_ref)
    ctx.notes.summary = f"campaign {args.campaign_ref}"
    return _clean_campaign(campaign)


class StatusCount(BaseModel):
    status: str
    members: int
    success: bool


class PerformanceOut(BaseModel):
    campaign_ref: str
    members: int
    by_status: list[StatusCount]
    successes: int
    success_rate: float | None
    derived_from: str


async def campaign_performance(ctx: ToolContext, args: CampaignIn) -> PerformanceOut:
    """Counts are derived from campaign members, which every vendor exposes, rather than
    from report APIs only some have."""
    conn, _, _ = split_ref(args.campaign_ref)
    client = connector(ctx, conn)
    campaign = await client.get_campaign(args.campaign_ref)
    success_names = {s.name for s in campaign.status_ladder if s.success}
    counts: dict[str, int] = {}
    successes = 0
    total = 0
    cursor: str | None = None
    for _ in range(1000):  # bounded: 1000 pages
        page: Any = await client.campaign_members(args.campaign_ref, cursor=cursor, limit=200)
        for m in page.items:
            status = m.status or "(none)"
            counts[status] = counts.get(status, 0) + 1
            total += 1
            if m.success or status in success_names:
                successes += 1
        cursor = page.next_cursor
        if not cursor:
            break
    rows = [
        StatusCount(status=s, members=n, success=s in success_names)
        for s, n in sorted(counts.items())
    ]
    ctx.notes.summary = f"{total} members, {successes} successes"
    return PerformanceOut(
        campaign_ref=args.campaign_ref,
        members=total,
        by_status=rows,
        successes=successes,
        success_rate=round(successes / total, 4) if total else None,
        derived_from="campaign members and their status ladder",
    )


ActivityTypeName = Literal[
    "email_sent",
    "email_delivered",
    "email_opened",
    "email_clicked",
    "email_bounced",
    "unsubscribed",
    "form_filled",
    "web_visit",
    "field_changed",
    "score_changed",
    "status_changed",
    "list_added",
    "list_removed",
    "campaign_requested",
    "created",
    "other",
]


class ActivitiesIn(StrictInput):
    person_ref: Ref | None = None
    campaign_ref: Ref | None = None
    connector: ConnectorName | None = None
    types: list[ActivityTypeName] = Field(default_factory=list, max_length=16)
    since: datetime | None = None
    until: datetime | None = None
    limit: Limit = 50
    cursor: Cursor = None


class ActivitiesPage(BaseModel):
    items: list[Activity]
    next_cursor: str | None
    truncated_by_size: bool = False


async def get_activities(ctx: ToolContext, args: ActivitiesIn) -> ActivitiesPage:
    from governance.errors import InvalidInput

    ref = args.person_ref or args.campaign_ref
    if ref is None:
        raise InvalidInput(
            "get_activities needs person_ref or campaign_ref.",
            hint="Pass the person or campaign whose activities you want.",
        )
    conn, _, _ = split_ref(ref)
    client = connector(ctx, conn)
    query = args.model_dump(exclude={"cursor", "limit"}, mode="json")

    async def fetch(cur: str | None, limit: int) -> Any:
        return await client.get_activities(
            person_ref=args.person_ref,
            campaign_ref=args.campaign_ref,
            types=args.types,
            since=args.since,
            until=args.until,
            cursor=cur,
            limit=limit,
        )

    def shape(a: Activity) -> Activity:
        cleaned: list[Any] = []
        attrs = {k: clean_value(k, v, cleaned) for k, v in a.attributes.items()}
        return a.model_copy(update={"attributes": attrs})

    items, nxt, cut = await bounded_page(
        fetch, shape, cursor=args.cursor, limit=args.limit, query=query
    )
    ctx.notes.summary = f"{len(items)} activities"
    return ActivitiesPage(items=items, next_cursor=nxt, truncated_by_size=cut)


class BudgetIn(StrictInput):
    connector: ConnectorName


async def api_budget(ctx: ToolContext, args: BudgetIn) -> ApiBudget:
    budget = await connector(ctx, args.connector).api_budget()
    ctx.notes.summary = f"{args.connector} budget"
    return budget


R = TOOL_RISK


def _spec(name: str, title: str, desc: str, i: Any, o: Any, h: Any) -> ToolSpec[Any, Any]:
    return ToolSpec(name, title, desc, i, o, h, R[name])


LIST_TOOLS: tuple[ToolSpec[Any, Any], ...] = (
    _spec(
        "list_lists",
        "List lists",
        "Static and dynamic lists (Salesforce: campaigns used "
        "as lists) on one connector, optionally filtered by name. Paged.",
        ListListsIn,
        ListsPage,
        list_lists,
    ),
    _spec(
        "list_members",
        "List members",
        "People in a list, shaped like search_people "
        "results (withheld/masked/cleaned fields reported). Paged.",
        ListMembersIn,
        PeoplePage,
        list_members,
    ),
    _spec(
        "get_person_memberships",
        "Person memberships",
        "The lists and campaigns one person belongs to, with campaign member status.",
        MembershipsIn,
        MembershipsOut,
        get_person_memberships,
    ),
    _spec(
        "list_campaigns",
        "List campaigns",
        "Programs, smart campaigns, marketing or CRM "
        "campaigns on one connector, with channel, status and whether they send email.",
        ListCampaignsIn,
        CampaignsPage,
        list_campaigns,
    ),
    _spec(
        "get_campaign",
        "Get a campaign",
        "One campaign with its status ladder (member "
        "statuses in order, which count as success) and audience list.",
        CampaignIn,
        Campaign,
        get_campaign,
    ),
    _spec(
        "campaign_performance",
        "Campaign performance",
        "Member counts by status, success "
        "count and rate for one campaign, derived from its members.",
        CampaignIn,
        PerformanceOut,
        campaign_performance,
    ),
    _spec(
        "get_activities",
        "Get activities",
        "Activities of a person or a campaign, filtered by type and time window. Paged.",
        ActivitiesIn,
        ActivitiesPage,
        get_activities,
    ),
    _spec(
        "api_budget",
        "API budget",
        "How much of the vendor's API allowance is used and "
        "left, and how many calls mopsgate made.",
        BudgetIn,
        ApiBudget,
        api_budget,
    ),
)

"""Read tools about lists, memberships, campaigns and activities."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from mopsgate.crm.connector import Connector
from mopsgate.crm.errors import NotSupportedByVendor
from mopsgate.crm.records import (
    Activity,
    ActivityType,
    Campaign,
    CampaignMember,
    Page,
    Person,
    PersonList,
)
from mopsgate.governance.catalogue import Catalogue
from mopsgate.governance.errors import InvalidInput
from mopsgate.governance.risk import RiskClass
from mopsgate.tools.common import (
    ConnectorName,
    Cursor,
    Limit,
    Moment,
    Ref,
    campaign_ref,
    connector,
    list_ref,
    not_supported,
    person_ref,
    read_access,
    same_connector,
)
from mopsgate.tools.paging import bounded_page
from mopsgate.tools.person_pages import PeoplePage, access_by_object
from mopsgate.tools.shaping import InjectionScan, clean_campaign, clean_list, shape_activity
from mopsgate.tools.spec import (
    ConnectorNeed,
    Handler,
    In,
    Out,
    Target,
    ToolContext,
    ToolInput,
    ToolSpec,
)

MAX_MEMBER_PAGES = 1000


class ListListsIn(ToolInput):
    connector: ConnectorName
    name_contains: str | None = Field(None, max_length=120)
    limit: Limit = 50
    cursor: Cursor = None

    def target(self) -> Target:
        return Target(self.connector)


class ListsPage(BaseModel):
    items: list[PersonList]
    next_cursor: str | None
    truncated_by_size: bool = False


async def list_lists(ctx: ToolContext, args: ListListsIn) -> ListsPage:
    client = connector(ctx, args.connector)

    async def fetch(cur: str | None, limit: int) -> Page[PersonList]:
        return await client.list_lists(cursor=cur, limit=limit, name_contains=args.name_contains)

    query = {"tool": "list_lists", "connector": args.connector, "name": args.name_contains}
    items, nxt, cut = await bounded_page(
        fetch, clean_list, cursor=args.cursor, limit=args.limit, query=query
    )
    ctx.notes.summary = f"{len(items)} lists"
    return ListsPage(items=items, next_cursor=nxt, truncated_by_size=cut)


class ListMembersIn(ToolInput):
    list_ref: Ref
    limit: Limit = 50
    cursor: Cursor = None

    def target(self) -> Target:
        return Target.of(self.list_ref)


async def list_members(ctx: ToolContext, args: ListMembersIn) -> PeoplePage:
    conn = list_ref(ctx.manifest.catalogue, args.list_ref)
    client = connector(ctx, conn)

    async def fetch(cur: str | None, limit: int) -> Page[Person]:
        return await client.list_members(args.list_ref, cursor=cur, limit=limit)

    items, nxt, cut = await bounded_page(
        fetch,
        access_by_object(ctx, conn, "list_members", scan := InjectionScan()),
        cursor=args.cursor,
        limit=args.limit,
        query={"tool": "list_members", "list": args.list_ref},
    )
    ctx.notes.summary = f"{len(items)} members of {args.list_ref}{scan.note()}"
    return PeoplePage(items=items, next_cursor=nxt, truncated_by_size=cut)


class MembershipsIn(ToolInput):
    person_ref: Ref

    def target(self) -> Target:
        return Target.of(self.person_ref)


class MembershipsOut(BaseModel):
    person_ref: str
    lists: list[PersonList]
    campaigns: list[CampaignMember]
    notes: str = Field("", description="what this vendor's membership view cannot show")


async def get_person_memberships(ctx: ToolContext, args: MembershipsIn) -> MembershipsOut:
    conn, _ = person_ref(ctx.manifest.catalogue, args.person_ref)
    client = connector(ctx, conn)
    result = await client.person_memberships(args.person_ref)
    ctx.notes.summary = f"{len(result.lists)} lists, {len(result.campaigns)} campaigns"
    return MembershipsOut(
        person_ref=args.person_ref,
        lists=[clean_list(x) for x in result.lists],
        campaigns=result.campaigns,
        notes=client.capabilities.membership_notes,  # what the vendor's view leaves out
    )


class ListCampaignsIn(ToolInput):
    connector: ConnectorName
    limit: Limit = 50
    cursor: Cursor = None

    def target(self) -> Target:
        return Target(self.connector)


class CampaignsPage(BaseModel):
    items: list[Campaign]
    next_cursor: str | None
    truncated_by_size: bool = False


async def list_campaigns(ctx: ToolContext, args: ListCampaignsIn) -> CampaignsPage:
    client = connector(ctx, args.connector)

    async def fetch(cur: str | None, limit: int) -> Page[Campaign]:
        return await client.list_campaigns(cursor=cur, limit=limit)

    query = {"tool": "list_campaigns", "connector": args.connector}
    items, nxt, cut = await bounded_page(
        fetch, clean_campaign, cursor=args.cursor, limit=args.limit, query=query
    )
    ctx.notes.summary = f"{len(items)} campaigns"
    return CampaignsPage(items=items, next_cursor=nxt, truncated_by_size=cut)


class CampaignIn(ToolInput):
    campaign_ref: Ref

    def target(self) -> Target:
        return Target.of(self.campaign_ref)


async def get_campaign(ctx: ToolContext, args: CampaignIn) -> Campaign:
    conn = campaign_ref(ctx.manifest.catalogue, args.campaign_ref)
    campaign = await connector(ctx, conn).get_campaign(args.campaign_ref)
    ctx.notes.summary = f"campaign {args.campaign_ref}"
    return clean_campaign(campaign)


class StatusCount(BaseModel):
    status: str
    members: int
    success: bool | None = Field(description="null when the vendor defines no success status")


class PerformanceOut(BaseModel):
    campaign_ref: str
    members: int
    by_status: list[StatusCount]
    successes: int | None = Field(description="null when the vendor defines no success status")
    success_rate: float | None
    derived_from: str
    complete: bool = Field(True, description="false when the member scan stopped at its cap")


@dataclass
class _Tally:
    counts: dict[str, int] = field(default_factory=dict)
    successes: int = 0  # members in a success status or flagged as having reached success
    flagged: bool = False  # the vendor reports success per member
    complete: bool = False


async def tally_members(client: Connector, ref: str, success_statuses: set[str]) -> _Tally:
    tally = _Tally()
    cursor: str | None = None
    for _ in range(MAX_MEMBER_PAGES):
        page = await client.campaign_members(
            ref, cursor=cursor, limit=client.capabilities.campaign_member_page
        )
        for m in page.items:
            status = m.status or "(none)"
            tally.counts[status] = tally.counts.get(status, 0) + 1
            tally.flagged = tally.flagged or m.success is not None
            tally.successes += bool(m.success or status in success_statuses)
        cursor = page.next_cursor
        if not cursor:
            tally.complete = True
            break
    return tally


async def campaign_performance(ctx: ToolContext, args: CampaignIn) -> PerformanceOut:
    """Counts are derived from campaign members, which every vendor exposes, rather than
    from report APIs only some have."""
    conn = campaign_ref(ctx.manifest.catalogue, args.campaign_ref)
    client = connector(ctx, conn)
    campaign = await client.get_campaign(args.campaign_ref)
    ladder = {s.name: s.success for s in campaign.status_ladder}
    try:
        tally = await tally_members(
            client, args.campaign_ref, {n for n, ok in ladder.items() if ok}
        )
    except NotSupportedByVendor as exc:
        raise not_supported(
            "campaign_performance", exc, "Ask for the campaign (program) that holds the members."
        ) from exc
    defined = bool(ladder) or tally.flagged
    rows = [
        StatusCount(status=s, members=n, success=ladder.get(s, False) if defined else None)
        for s, n in sorted(tally.counts.items())
    ]
    total = sum(tally.counts.values())
    successes = tally.successes if defined else None
    how = (
        "campaign members counted by status; successes are members in a status the campaign's "
        "status ladder marks as success (or that the vendor says reached success)"
        if defined
        else f"campaign members counted by the vendor's membership type; {conn} campaigns have "
        "no status ladder, so no status counts as success and no success rate is given"
    )
    ctx.notes.summary = f"{total} members, {successes} successes"
    return PerformanceOut(
        campaign_ref=args.campaign_ref,
        members=total,
        by_status=rows,
        successes=successes,
        success_rate=round(successes / total, 4) if successes is not None and total else None,
        derived_from=how,
        complete=tally.complete,
    )


class ActivitiesIn(ToolInput):
    person_ref: Ref | None = None
    campaign_ref: Ref | None = None
    connector: ConnectorName | None = Field(
        None, description="optional; must match the references' connector"
    )
    types: list[ActivityType] = Field(default_factory=list, max_length=16)
    since: Moment | None = Field(None, description="ISO 8601; without a zone it is UTC")
    until: Moment | None = Field(None, description="ISO 8601, exclusive; UTC by default")
    limit: Limit = 50
    cursor: Cursor = None

    def target(self) -> Target:
        return Target(self.connector).or_(Target.of(self.person_ref or self.campaign_ref))


class ActivitiesPage(BaseModel):
    items: list[Activity]
    next_cursor: str | None
    truncated_by_size: bool = False


def _utc(when: datetime | None) -> datetime | None:
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


def _activity_scope(cat: Catalogue, args: ActivitiesIn) -> str:
    """The one connector the call addresses, after checking every reference's kind."""
    if args.person_ref is None and args.campaign_ref is None:
        raise InvalidInput(
            "get_activities needs person_ref or campaign_ref.",
            hint="Pass the person or campaign whose activities you want.",
        )
    if args.person_ref:
        person_ref(cat, args.person_ref)
    if args.campaign_ref:
        campaign_ref(cat, args.campaign_ref)
    since, until = _utc(args.since), _utc(args.until)
    if since is not None and until is not None and since >= until:
        raise InvalidInput("since must be before until.", hint="Fix the time window.")
    return same_connector(args.connector, args.person_ref, args.campaign_ref)


async def get_activities(ctx: ToolContext, args: ActivitiesIn) -> ActivitiesPage:
    conn = _activity_scope(ctx.manifest.catalogue, args)
    client = connector(ctx, conn)
    query = {"tool": "get_activities", **args.model_dump(exclude={"cursor", "limit"}, mode="json")}
    unmasked = all(
        read_access(ctx, conn, o, "get_activities").unmasked_pii
        for o in ctx.manifest.catalogue.person_objects[conn]
    )

    async def fetch(cur: str | None, limit: int) -> Page[Activity]:
        return await client.get_activities(
            person_ref=args.person_ref,
            campaign_ref=args.campaign_ref,
            types=args.types,
            since=_utc(args.since),
            until=_utc(args.until),
            cursor=cur,
            limit=limit,
        )

    items, nxt, cut = await bounded_page(
        fetch,
        lambda a: shape_activity(a, unmasked),
        cursor=args.cursor,
        limit=args.limit,
        query=query,
    )
    ctx.notes.summary = f"{len(items)} activities"
    return ActivitiesPage(items=items, next_cursor=nxt, truncated_by_size=cut)


def _spec(
    name: str, title: str, desc: str, i: type[In], o: type[Out], h: Handler[In, Out]
) -> ToolSpec[In, Out]:
    """Every list, campaign and activity tool reads the connector its arguments name."""
    return ToolSpec(name, title, desc, i, o, h, RiskClass.READ, ConnectorNeed.ARGUMENT)


LIST_TOOLS = (
    _spec(
        "list_lists",
        "List lists",
        "Static and dynamic lists (Salesforce: Campaigns of Type 'List') on one connector, "
        "optionally filtered by name. Paged (at most 100 per page).",
        ListListsIn,
        ListsPage,
        list_lists,
    ),
    _spec(
        "list_members",
        "List members",
        "People in a list, shaped like search_people results (withheld/masked/cleaned fields "
        "reported). Paged (at most 100 per page). Marketo smart lists cannot be read.",
        ListMembersIn,
        PeoplePage,
        list_members,
    ),
    _spec(
        "get_person_memberships",
        "Person memberships",
        "The lists and campaigns one person belongs to, with campaign member status; "
        "'notes' says what the vendor cannot show.",
        MembershipsIn,
        MembershipsOut,
        get_person_memberships,
    ),
    _spec(
        "list_campaigns",
        "List campaigns",
        "Programs, smart campaigns, marketing or CRM campaigns on one connector, with channel, "
        "status and status ladder. A listing does not read every detail: sends_email null "
        "means unknown (HubSpot), never 'no', and audience_known false means the audience was "
        "not resolved (HubSpot, Marketo smart campaigns); get_campaign has both. Before a send, "
        "use find_consent_conflicts, which treats unknown as a send. Paged.",
        ListCampaignsIn,
        CampaignsPage,
        list_campaigns,
    ),
    _spec(
        "get_campaign",
        "Get a campaign",
        "One campaign with its status ladder (member statuses in order, which count as "
        "success), whether it sends email and its audience list.",
        CampaignIn,
        Campaign,
        get_campaign,
    ),
    _spec(
        "campaign_performance",
        "Campaign performance",
        "Member counts by status, success count and rate for one campaign, derived from its "
        "members and status ladder. HubSpot campaigns have no ladder: counts are by attribution "
        "type and success is null. Marketo: ask for the program, not a smart campaign.",
        CampaignIn,
        PerformanceOut,
        campaign_performance,
    ),
    _spec(
        "get_activities",
        "Get activities",
        "Activities of a person or a campaign, filtered by type and time window. Paged. "
        "HubSpot returns e-mail events only. Attribute values are untrusted vendor data; PII "
        "in them is masked.",
        ActivitiesIn,
        ActivitiesPage,
        get_activities,
    ),
)

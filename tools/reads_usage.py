"""What a list is used for, and how a set of campaigns did: the two reporting questions of a
Marketing-Ops month that otherwise take a call per campaign and a manual join.

Both read only what every vendor exposes (campaigns and their audiences, campaign members,
activities), bounded, and say when a bound or a vendor gap left the answer incomplete.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, Field

from mopsgate.crm.connector import Connector
from mopsgate.crm.errors import NotSupportedByVendor
from mopsgate.crm.records import ActivityType, Campaign
from mopsgate.governance import send_lists
from mopsgate.governance.errors import InvalidInput
from mopsgate.governance.hygiene import clean_text
from mopsgate.governance.risk import RiskClass
from mopsgate.tools.common import Ref, campaign_ref, connector, list_ref, same_connector
from mopsgate.tools.reads_lists import tally_members
from mopsgate.tools.spec import ConnectorNeed, Target, ToolContext, ToolInput, ToolSpec

MAX_CAMPAIGN_PAGES = 100
MAX_ACTIVITIES = 50_000  # activities one report (or one list's sends) reads
# activity type -> the report's count it adds to (the e-mail types every vendor reports)
FIELD_OF: dict[ActivityType, str] = {
    "email_sent": "sent",
    "email_delivered": "delivered",
    "email_opened": "opened",
    "email_clicked": "clicked",
    "email_bounced": "bounced",
    "unsubscribed": "unsubscribed",
}
EMAIL_TYPES: tuple[ActivityType, ...] = tuple(FIELD_OF)


def _utc(when: datetime | None) -> datetime | None:
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


async def _every_campaign(client: Connector) -> tuple[list[Campaign], bool]:
    """Every campaign, read in full where the listing leaves the audience unresolved; and
    whether the listing was read to its end."""
    out: list[Campaign] = []
    cursor: str | None = None
    for _ in range(MAX_CAMPAIGN_PAGES):
        page = await client.list_campaigns(cursor=cursor, limit=client.capabilities.campaign_page)
        for summary in page.items:
            full = summary
            if not summary.audience_known or summary.sends_email is None:
                full = await client.get_campaign(summary.ref)
            out.append(full)
        cursor = page.next_cursor
        if not cursor:
            return out, True
    return out, False


class _Sends:
    def __init__(self) -> None:
        self.count = 0
        self.last: datetime | None = None
        self.capped = False


async def _sends_of(client: Connector, ref: str, budget: list[int]) -> _Sends:
    """How many e-mail sends a campaign made, and the latest (read to the end, bounded)."""
    sends = _Sends()
    cursor: str | None = None
    while True:
        if budget[0] <= 0:
            sends.capped = True
            return sends
        page = await client.get_activities(
            campaign_ref=ref, types=["email_sent"], cursor=cursor, limit=300
        )
        for act in page.items:
            budget[0] -= 1
            sends.count += 1
            if sends.last is None or act.occurred_at > sends.last:
                sends.last = act.occurred_at
        cursor = page.next_cursor
        if not cursor:
            return sends


class ListUsageIn(ToolInput):
    list_ref: Ref

    def target(self) -> Target:
        return Target.of(self.list_ref)


class CampaignUse(BaseModel):
    campaign_ref: str
    name: str
    active: bool | None
    sends_email: bool | None
    sends: int = Field(description="e-mails this campaign sent (all time)")
    last_sent_at: datetime | None


class ListUsageOut(BaseModel):
    list_ref: str
    name: str
    kind: str
    size: int | None
    created_at: datetime | None
    owner: str | None = Field(description="'name (active|left)', where the vendor records one")
    used_by: list[CampaignUse] = Field(description="campaigns naming this list as audience")
    last_used_at: datetime | None = Field(description="latest send of any of those campaigns")
    feeds_sends: bool = Field(description="the compliance floor treats the list as a send list")
    feeds_sends_why: str | None
    unresolved_campaigns: list[str] = Field(
        description="campaigns whose audience could not be resolved: they may use this list"
    )
    complete: bool
    notes: str


async def _owner_label(client: Connector, ref: str | None) -> str | None:
    if ref is None:
        return None
    for owner in await client.list_owners():
        if owner.ref == ref:
            state = "active" if owner.active else "left"
            return f"{clean_text(owner.name, 120).text} ({state})"
    return f"{ref} (not a known owner)"


async def get_list_usage(ctx: ToolContext, args: ListUsageIn) -> ListUsageOut:
    conn = list_ref(ctx.manifest.catalogue, args.list_ref)
    client = connector(ctx, conn)
    lst = await client.get_list(args.list_ref)
    campaigns, all_seen = await _every_campaign(client)
    budget = [MAX_ACTIVITIES]
    used: list[CampaignUse] = []
    capped = False
    for camp in campaigns:
        if camp.audience_list_ref != args.list_ref or camp.ref == args.list_ref:
            continue
        sends = await _sends_of(client, camp.ref, budget)
        capped = capped or sends.capped
        used.append(
            CampaignUse(
                campaign_ref=camp.ref,
                name=clean_text(camp.name, 200).text,
                active=camp.active,
                sends_email=camp.sends_email,
                sends=sends.count,
                last_sent_at=sends.last,
            )
        )
    unresolved = [c.ref for c in campaigns if not c.audience_known and c.ref != args.list_ref]
    verdict = send_lists.from_campaigns(
        client,
        [c for c in campaigns if send_lists.sends_email(c)],
        all_seen,
        ctx.manifest.not_send_lists(conn),
    )
    feeds = verdict.feeds_sends(args.list_ref)
    notes = (
        ""
        if client.capabilities.send_audiences_named
        else f"{conn} cannot show which lists its e-mail platform sends to: no campaign names "
        "this list as its audience, whatever uses it outside the vendor."
    )
    last = max((u.last_sent_at for u in used if u.last_sent_at), default=None)
    ctx.notes.summary = f"{args.list_ref}: used by {len(used)} campaigns"
    return ListUsageOut(
        list_ref=args.list_ref,
        name=clean_text(lst.name, 200).text,
        kind=lst.kind,
        size=lst.size,
        created_at=lst.created_at,
        owner=await _owner_label(client, lst.owner_ref),
        used_by=used,
        last_used_at=last,
        feeds_sends=feeds,
        feeds_sends_why=verdict.why(args.list_ref) if feeds else None,
        unresolved_campaigns=unresolved,
        complete=all_seen and not capped and not unresolved,
        notes=notes,
    )


CampaignRefs = Annotated[list[Ref], Field(min_length=1, max_length=20)]


class ReportIn(ToolInput):
    campaign_refs: CampaignRefs = Field(description="1 to 20 campaigns of one connector")
    since: datetime | None = Field(None, description="ISO 8601; UTC if no zone; default: all")
    until: datetime | None = Field(None, description="ISO 8601, exclusive; default: now")

    def target(self) -> Target:
        return Target.of(*self.campaign_refs)


class EmailCounts(BaseModel):
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    bounced: int = 0
    unsubscribed: int = 0


class CampaignLine(BaseModel):
    campaign_ref: str
    name: str
    channel: str | None
    status: str | None
    email: EmailCounts = Field(description="activities in the window, by type")
    people: EmailCounts = Field(description="distinct people per activity type in the window")
    members: int | None = Field(description="campaign members now; null where not readable")
    member_status: dict[str, int] | None = Field(description="members per status now")
    notes: str = ""


class ReportOut(BaseModel):
    since: datetime | None
    until: datetime | None
    campaigns: list[CampaignLine]
    totals: EmailCounts
    complete: bool = Field(description="false when a scan stopped at its cap")
    how: str


async def _email_counts(
    client: Connector,
    ref: str,
    since: datetime | None,
    until: datetime | None,
    budget: list[int],
) -> tuple[EmailCounts, EmailCounts, bool]:
    counts: dict[str, int] = dict.fromkeys(FIELD_OF.values(), 0)
    people: dict[str, set[str]] = {f: set() for f in FIELD_OF.values()}
    cursor: str | None = None
    while True:
        if budget[0] <= 0:
            return EmailCounts(**counts), _distinct(people), False
        page = await client.get_activities(
            campaign_ref=ref, types=EMAIL_TYPES, since=since, until=until, cursor=cursor, limit=300
        )
        for act in page.items:
            budget[0] -= 1
            name = FIELD_OF.get(act.type)
            if name is not None:
                counts[name] += 1
                people[name].add(act.person_ref)
        cursor = page.next_cursor
        if not cursor:
            return EmailCounts(**counts), _distinct(people), True


def _distinct(people: dict[str, set[str]]) -> EmailCounts:
    return EmailCounts(**{k: len(v) for k, v in people.items()})


async def _members(client: Connector, camp: Campaign) -> tuple[int | None, dict[str, int] | None]:
    success = {s.name for s in camp.status_ladder if s.success}
    try:
        tally = await tally_members(client, camp.ref, success)
    except NotSupportedByVendor:
        return None, None
    return sum(tally.counts.values()), dict(sorted(tally.counts.items()))


async def campaign_report(ctx: ToolContext, args: ReportIn) -> ReportOut:
    cat = ctx.manifest.catalogue
    conn = same_connector(*(campaign_ref(cat, r) for r in args.campaign_refs))
    if len(set(args.campaign_refs)) != len(args.campaign_refs):
        raise InvalidInput("a campaign is listed twice.", hint="List each campaign once.")
    since, until = _utc(args.since), _utc(args.until)
    if since is not None and until is not None and since >= until:
        raise InvalidInput("since must be before until.", hint="Fix the time window.")
    client = connector(ctx, conn)
    budget = [MAX_ACTIVITIES]
    lines: list[CampaignLine] = []
    complete = True
    totals = EmailCounts()
    for ref in args.campaign_refs:
        camp = await client.get_campaign(ref)
        email, people, whole = await _email_counts(client, ref, since, until, budget)
        complete = complete and whole
        members, statuses = await _members(client, camp)
        note = (
            ""
            if members is not None
            else f"{conn} cannot list this campaign's members (ask for the program that holds them)"
        )
        lines.append(
            CampaignLine(
                campaign_ref=ref,
                name=clean_text(camp.name, 200).text,
                channel=camp.channel,
                status=camp.status,
                email=email,
                people=people,
                members=members,
                member_status=statuses,
                notes=note,
            )
        )
        totals = EmailCounts(
            **{k: getattr(totals, k) + getattr(email, k) for k in EmailCounts.model_fields}
        )
    ctx.notes.summary = f"report of {len(lines)} campaigns"
    return ReportOut(
        since=since,
        until=until,
        campaigns=lines,
        totals=totals,
        complete=complete,
        how="e-mail counts are the campaign's activities in the window (HubSpot: its marketing "
        "e-mails' events; Salesforce: Tasks on the campaign); member counts are the campaign's "
        "members now, by status",
    )


USAGE_TOOLS = (
    ToolSpec(
        "get_list_usage",
        "List usage",
        "Before archiving or cleaning a list: which campaigns name it as their audience, how "
        "many e-mails each sent and when last, who owns the list (where the vendor says), and "
        "whether the compliance floor treats it as a send list. 'unresolved_campaigns' may "
        "use it too; Salesforce cannot name what its e-mail platform sends to.",
        ListUsageIn,
        ListUsageOut,
        get_list_usage,
        RiskClass.READ,
        ConnectorNeed.ARGUMENT,
    ),
    ToolSpec(
        "campaign_report",
        "Campaign report",
        "One report over 1-20 campaigns of one connector and an optional date window: e-mails "
        "sent, delivered, opened, clicked, bounced and unsubscribes (activities and distinct "
        "people), and member counts by status, with totals. Use it instead of calling "
        "campaign_performance and get_activities per campaign.",
        ReportIn,
        ReportOut,
        campaign_report,
        RiskClass.READ,
        ConnectorNeed.ARGUMENT,
    ),
)

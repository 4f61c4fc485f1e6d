"""find_consent_conflicts: people who may not be emailed but sit in an e-mail send's audience.

Bounded like every scan here (``scan_pages``): it says when it stopped early rather than report a
partial answer as complete.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import BaseModel, Field

from mopsgate.crm.connector import Connector
from mopsgate.crm.errors import NotSupportedByVendor
from mopsgate.crm.records import Campaign, CampaignMember, Page, Person
from mopsgate.governance.consent_floor import ExpressConsent, express_consent, floor_findings
from mopsgate.governance.errors import NotPermitted
from mopsgate.governance.hygiene import clean_text
from mopsgate.governance.policy import permitted_objects
from mopsgate.governance.send_lists import SendLists, email_campaigns, from_campaigns
from mopsgate.tools.common import (
    ConnectorName,
    Ref,
    campaign_ref,
    connector,
    read_access,
    same_connector,
)
from mopsgate.tools.person_matching import ObjectRights
from mopsgate.tools.scan_pages import MAX_REPORTED, MAX_SCAN, list_fetch, pages
from mopsgate.tools.shaping import withheld_status_field
from mopsgate.tools.spec import Target, ToolContext, ToolInput

STATUS_OF_BLOCK = {"consent_unknown": "unknown"}  # the floor's reason code -> consent status
HIDDEN_BY = "another record with the same email address, which you may not read, is not sendable"
MAX_CAMPAIGNS = 200
MAX_LISTS = 2000  # lists checked where the vendor cannot name its send lists

CONFLICTS_DEFINITION = (
    "People whose consent is not 'subscribed' (opted out, suppressed, or no legal basis "
    "recorded) — on their own record, or on another record with the same email address — "
    "who are members of an active e-mail-sending campaign or sit in a list that "
    "feeds e-mail sends. Active: not ended or switched off. E-mail sending: as the vendor "
    "reports it (get_campaign; Marketo smart campaigns follow their program's type; "
    "Salesforce sends no e-mail itself, so there its active campaigns of Type Email or "
    "Webinar count, and a campaign's audience is its members). Lists that feed sends: the "
    "audience lists of those campaigns; where the vendor cannot name every such list "
    "(Salesforce, or a campaign whose audience is not one resolvable list) every list counts "
    "unless the manifest declares it feeds no send (lists_declared_not_send)."
)


class ConflictsIn(ToolInput):
    connector: ConnectorName
    campaign_ref: Ref | None = Field(
        None,
        description="check only this campaign (whatever its channel); default: every active "
        "campaign that sends e-mail",
    )

    def target(self) -> Target:
        return Target(self.connector).or_(Target.of(self.campaign_ref))


class Conflict(BaseModel):
    person_ref: str
    consent_status: str
    reasons: list[str]
    found_in: list[str] = Field(description="campaigns and audience lists containing them")


class ConflictsOut(BaseModel):
    conflicts: list[Conflict]
    total_conflicts: int
    by_status: dict[str, int]
    campaigns_checked: list[str]
    lists_checked: list[str]
    lists_declared_not_send: list[str] = Field(
        description="lists not checked because the manifest declares they feed no e-mail send "
        "(only where the vendor cannot name its send lists)"
    )
    unreadable: list[str] = Field(description="audiences the vendor would not let us read")
    records_scanned: int
    complete: bool = Field(description="false when the scan stopped at a limit or missed data")
    definition: str = CONFLICTS_DEFINITION


async def _send_campaigns(client: Connector, only: str | None) -> tuple[list[Campaign], bool]:
    """The campaigns to check, and whether every campaign was looked at."""
    if only:
        return [await client.get_campaign(only)], True
    return await email_campaigns(client, limit=MAX_CAMPAIGNS)


async def _unnamed_send_lists(
    client: Connector, lists: SendLists, scan: _Scan
) -> tuple[list[str], bool]:
    """Where the vendor cannot name every send list, check every list it has that may feed
    sends (all but the declared ones). Returns the declared lists skipped, and whether every
    list could be listed."""
    skipped: list[str] = []
    budget = [MAX_LISTS]
    try:
        page = client.capabilities.list_page
        lists_of = pages(lambda cur: client.list_lists(cursor=cur, limit=page), budget)
        async for lst in lists_of:
            if lists.feeds_sends(lst.ref):
                await scan.audience(lst.ref)
            else:
                skipped.append(lst.ref)
    except NotSupportedByVendor:
        return skipped, False
    return skipped, budget[0] > 0


def _members_fetch(
    client: Connector, ref: str
) -> Callable[[str | None], Awaitable[Page[CampaignMember]]]:
    async def fetch(cursor: str | None) -> Page[CampaignMember]:
        return await client.campaign_members(
            ref, cursor=cursor, limit=client.capabilities.campaign_member_page
        )

    return fetch


class _Scan:
    def __init__(
        self, client: Connector, express: ExpressConsent, allowed: Callable[[Person], bool]
    ) -> None:
        self.client = client
        self.express = express
        self.allowed = allowed  # a member of an object the caller may not read is unsaid
        self.seen = 0
        self.hits: dict[str, Conflict] = {}
        self.budget = [MAX_SCAN]
        self.lists: list[str] = []
        self.unreadable: list[str] = []
        self.subscribed: dict[str, tuple[Person, list[str]]] = {}  # ref -> (person, where)

    def note(self, person: Person, where: str) -> None:
        if not self.allowed(person):
            return
        self.seen += 1
        state = person.consent
        if state.status == "subscribed":
            self.subscribed.setdefault(person.ref, (person, []))[1].append(where)
            return
        reasons = [state.status, *(clean_text(r, 200).text for r in state.suppression_reasons)]
        self._hit(person.ref, state.status, reasons, [where])

    def _hit(self, ref: str, status: str, reasons: list[str], where: list[str]) -> None:
        hit = self.hits.setdefault(
            ref, Conflict(person_ref=ref, consent_status=status, reasons=reasons, found_in=[])
        )
        hit.found_in.extend(w for w in dict.fromkeys(where) if w not in hit.found_in)

    async def by_person(self) -> None:
        """Subscribed records whose address another record holds opted out, suppressed or of
        unknown consent: the floor blocks them, so they are conflicts too (one batched lookup
        of every other record of their addresses)."""
        people = [person for person, _ in self.subscribed.values()]
        found = await floor_findings(self.client, people, self.express)
        for ref, block in found.items():
            status = STATUS_OF_BLOCK.get(block.code, block.code)
            # the record that blocks is named only where the caller may read its object
            reason = block.block[1] if block.by is None or self.allowed(block.by) else HIDDEN_BY
            self._hit(ref, status, [status, reason], self.subscribed[ref][1])

    async def audience(self, ref: str) -> None:
        if ref in self.lists or ref in self.unreadable:
            return
        try:
            async for person in pages(list_fetch(self.client, ref), self.budget):
                self.note(person, ref)
        except NotSupportedByVendor:
            self.unreadable.append(ref)
            return
        self.lists.append(ref)

    async def members(self, camp: Campaign) -> None:
        if camp.kind == "smart_campaign":
            return  # its members live on its program, checked as a campaign of its own
        fetch = _members_fetch(self.client, camp.ref)
        try:
            refs = [m.person_ref async for m in pages(fetch, self.budget)]
        except NotSupportedByVendor:
            self.unreadable.append(camp.ref)
            return
        for start in range(0, len(refs), 300):
            people = await self.client.get_people(refs[start : start + 300])
            for person in people.values():
                self.note(person, camp.ref)


def _consent_readable(ctx: ToolContext, conn: str) -> None:
    """A conflict is a person whose consent status says they may not be emailed, so listing or
    counting conflicts reads that status, and so every field it is derived from (opt-out,
    suppression, legal basis) on each person object the caller may read: refused before any
    vendor call otherwise, as search_people's consent filter is."""
    cat = ctx.manifest.catalogue
    tool = "find_consent_conflicts"
    readable, _ = permitted_objects(
        ctx.manifest, ctx.principal, tool, conn, cat.person_objects[conn], use_case=ctx.use_case
    )
    for obj in readable:
        name = withheld_status_field(cat, conn, obj, read_access(ctx, conn, obj, tool))
        if name is not None:
            raise NotPermitted(
                f"find_consent_conflicts reads {conn} {obj} field {name!r} (consent rests "
                "on it), which you may not read.",
                hint="Ask someone who may read consent fields; my_permissions shows what "
                "you may read.",
            )


async def find_consent_conflicts(ctx: ToolContext, args: ConflictsIn) -> ConflictsOut:
    if args.campaign_ref:
        same_connector(args.connector, campaign_ref(ctx.manifest.catalogue, args.campaign_ref))
    _consent_readable(ctx, args.connector)
    client = connector(ctx, args.connector)
    campaigns, all_seen = await _send_campaigns(client, args.campaign_ref)
    scan = _Scan(
        client,
        express_consent(ctx.manifest, args.connector),
        ObjectRights(ctx, "find_consent_conflicts").allows,
    )
    for camp in campaigns:
        if camp.audience_list_ref and camp.audience_list_ref != camp.ref:
            await scan.audience(camp.audience_list_ref)
        await scan.members(camp)
    declared: list[str] = []
    lists = from_campaigns(client, campaigns, all_seen, ctx.manifest.not_send_lists(args.connector))
    if not args.campaign_ref and not lists.complete:
        declared, listed = await _unnamed_send_lists(client, lists, scan)
        all_seen = all_seen and listed
    await scan.by_person()
    ordered = sorted(scan.hits.values(), key=lambda c: c.person_ref)
    by_status: dict[str, int] = {}
    for c in ordered:
        by_status[c.consent_status] = by_status.get(c.consent_status, 0) + 1
    ctx.notes.summary = f"{len(ordered)} conflicts in {len(campaigns)} campaigns"
    return ConflictsOut(
        conflicts=ordered[:MAX_REPORTED],
        total_conflicts=len(ordered),
        by_status=by_status,
        campaigns_checked=[c.ref for c in campaigns],
        lists_checked=scan.lists,
        lists_declared_not_send=declared,
        unreadable=scan.unreadable,
        records_scanned=scan.seen,
        complete=all_seen and scan.budget[0] > 0 and not scan.unreadable,
    )

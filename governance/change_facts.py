"""Looks up what a change touches, by name, for the console and ``mopsgate review show``.

The plan stores references; a reviewer needs names. This reads the target list or campaign
(and which email campaigns send to the list), and the people of the records being shown — one
page at a time, so a 10,000-record change costs one batch read per page — through the
connector clients the server uses (the ``crm.Connector`` port). What a reviewer sees of a
person follows their manifest PII rights: nothing (references only), masked, or plain. A
failed lookup is reported on the page and never blocks the review: the decision is on the
plan, which is always shown in full.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from mopsgate.crm.connector import Connector
from mopsgate.crm.errors import ConfigError, VendorError
from mopsgate.crm.records import Campaign, Person
from mopsgate.governance.catalogue import Catalogue
from mopsgate.governance.change_model import Change
from mopsgate.governance.change_story import (
    CampaignFacts,
    ChangeStory,
    ListFacts,
    PersonFacts,
    PiiView,
)
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.pii import mask_email, mask_name
from mopsgate.governance.send_lists import email_campaigns, from_campaigns

LIST_OPERATIONS = frozenset({"add_to_list", "remove_from_list"})
CAMPAIGN_OPERATIONS = frozenset({"trigger_campaign", "schedule_campaign", "set_campaign_status"})
MAX_CAMPAIGNS = 200  # campaigns read to find what a list feeds
LookupFailure = (VendorError, ConfigError, KeyError, ValueError)
SCAN_SECONDS = 60.0


class RecentScans:
    """Each connector's active email campaigns, read at most once per ``ttl`` seconds.

    Marketo allows 100 calls per 20 s for the whole instance, and finding what a list feeds
    reads every campaign; a reviewer paging through changes must not spend that budget (or
    wait on it) once per page. A name shown up to a minute old is fine for a review: the
    floor reads the campaigns afresh when the change is applied."""

    def __init__(self, ttl: float = SCAN_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._kept: dict[str, tuple[Connector, float, list[Campaign], bool]] = {}
        self._lock = asyncio.Lock()

    async def email_campaigns(self, client: Connector) -> tuple[list[Campaign], bool]:
        async with self._lock:  # two pages at once share one read
            kept = self._kept.get(client.name)
            if kept and kept[0] is client and self.clock() - kept[1] < self.ttl:
                return kept[2], kept[3]
            campaigns, all_seen = await email_campaigns(client, limit=MAX_CAMPAIGNS)
            self._kept[client.name] = (client, self.clock(), campaigns, all_seen)
            return campaigns, all_seen


async def tell(
    change: Change,
    manifest: Manifest,
    pii: PiiView,
    client: Connector,
    refs: Sequence[str],
    scans: RecentScans | None = None,
) -> ChangeStory:
    """The facts for ``change`` and the people among ``refs`` (the records on screen);
    ``scans`` keeps the campaign reads between calls (a fresh one reads them now)."""
    problems: list[str] = []
    target: ListFacts | CampaignFacts | None = None
    if change.plan.target:
        try:
            target = await _target(change, manifest, client, scans or RecentScans())
        except LookupFailure as exc:
            problems.append(f"could not look up {change.plan.target}: {exc}")
    people: dict[str, PersonFacts] = {}
    if pii != "none" and refs:
        try:
            found = await client.get_people(list(refs))
        except LookupFailure as exc:
            problems.append(f"could not look up the people on this page: {exc}")
        else:
            cat = manifest.catalogue
            people = {ref: person_facts(cat, client.name, ref, found.get(ref), pii) for ref in refs}
    return ChangeStory(pii=pii, target=target, people=people, problems=tuple(problems))


async def tell_by(
    connector_of: Callable[[str], Connector],
    change: Change,
    manifest: Manifest,
    pii: PiiView,
    refs: Sequence[str],
    scans: RecentScans | None = None,
) -> ChangeStory:
    """:func:`tell`, looking up the change's client first: a connector that cannot be built
    (a production one without its credentials) is reported like any failed lookup."""
    try:
        client = connector_of(change.connector)
    except LookupFailure as exc:
        return ChangeStory(pii=pii, problems=(f"could not reach {change.connector}: {exc}",))
    return await tell(change, manifest, pii, client, refs, scans)


async def _target(
    change: Change, manifest: Manifest, client: Connector, scans: RecentScans
) -> ListFacts | CampaignFacts | None:
    ref = change.plan.target or ""
    if change.plan.operation in LIST_OPERATIONS:
        return await list_facts(ref, manifest, client, scans)
    if change.plan.operation in CAMPAIGN_OPERATIONS:
        campaign = await client.get_campaign(ref)
        audience = None
        if campaign.audience_list_ref:
            audience = (await client.get_list(campaign.audience_list_ref)).name
        return campaign_facts(campaign, audience)
    return None


async def list_facts(
    ref: str, manifest: Manifest, client: Connector, scans: RecentScans | None = None
) -> ListFacts:
    found = await client.get_list(ref)
    campaigns, all_seen = await (scans or RecentScans()).email_campaigns(client)
    sends = from_campaigns(client, campaigns, all_seen, manifest.not_send_lists(client.name))
    feeds = tuple(campaign_facts(c, found.name) for c in campaigns if c.audience_list_ref == ref)
    feeds_sends = sends.feeds_sends(ref)
    return ListFacts(
        ref=ref,
        name=found.name,
        kind=found.kind,
        size=found.size,
        description=found.description,
        feeds=feeds,
        feeds_sends=feeds_sends,
        sends_why=sends.why(ref) if feeds_sends else "no email campaign sends to it",
    )


def campaign_facts(campaign: Campaign, audience: str | None) -> CampaignFacts:
    return CampaignFacts(
        ref=campaign.ref,
        name=campaign.name,
        channel=campaign.channel,
        status=campaign.status,
        active=campaign.active,
        sends_email=campaign.sends_email,
        audience=audience or campaign.audience_list_ref,
    )


def person_facts(
    cat: Catalogue, connector: str, ref: str, person: Person | None, pii: PiiView
) -> PersonFacts:
    if person is None:
        return PersonFacts(ref=ref, found=False)

    def value(role: str) -> str | None:
        name = cat.field_for(connector, person.object, role)
        raw = person.fields.get(name) if name else None
        return str(raw).strip() if raw not in (None, "") else None

    name = " ".join(p for p in (value("first_name"), value("last_name")) if p) or None
    email = value("email")
    if pii == "masked":
        name = mask_name(name) if name else None
        email = mask_email(email) if email else None
    return PersonFacts(ref=ref, name=name, email=email, company=value("company"))

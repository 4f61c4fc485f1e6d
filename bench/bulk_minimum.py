"""The fewest upstream calls a bulk plan or apply can make, from each vendor's batch limits.

What a plan must learn, and an apply must re-check before writing (drift, consent):

* ``update_fields`` plan: every target person (batched reads) and the field descriptions of
  each person object (one describe per object). Apply: re-read every record it will write,
  then write in batches.
* ``add_to_list`` plan: every target person, the list's current members (member pages, ids
  only) and which lists feed email sends (one listing of campaigns). Apply: the same reads for
  the records it will write, then the writes.

Minimum = sum over those of ``ceil(items / cap)`` (at least one call for a listing), with the
caps below: each vendor's documented per-call limit, as the connector declares it in its
capabilities. Auth token requests are not counted in the minimum (one per token lifetime, made
during warm-up).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs

from mopsgate.connectors.capabilities import capabilities_of


@dataclass(frozen=True)
class Caps:
    read: int  # person records per batch read
    members: int  # list member ids per page
    write: int  # records per batch write
    campaign_listing: int  # calls to list every campaign once (the seed has fewer than a page)
    describe_per_object: int = 1


# Campaign listings: Marketo's live in two collections (programs, smart campaigns); HubSpot's
# and Salesforce's in one.
CAMPAIGN_LISTINGS = {"marketo": 2, "hubspot": 1, "salesforce": 1}
# Reads per campaign the listing cannot rule out (not inactive) that no client can avoid: a
# HubSpot campaign's emails and lists are its assets, one call per asset type, and no listing
# carries them. (Marketo's smart-campaign audience is a per-campaign read too; §4's rough
# minimum leaves it out, §4b's ``kind_minimum`` below counts it.)
CAMPAIGN_READS = {"marketo": 0, "hubspot": 2, "salesforce": 0}


def _caps(vendor: str) -> Caps:
    """From what the connector declares (``connectors/<vendor>/capabilities.py``): Marketo
    300 / 300 / 300, HubSpot 100 / 250 / 100, Salesforce 200 / 2000 / 200."""
    declared = capabilities_of(vendor)
    return Caps(
        read=declared.read_batch,
        members=declared.member_page,
        write=declared.update_batch,
        campaign_listing=CAMPAIGN_LISTINGS[vendor],
    )


CAPS = {vendor: _caps(vendor) for vendor in CAMPAIGN_LISTINGS}


def _calls(items: int, cap: int) -> int:
    return math.ceil(items / cap) if items > 0 else 0


def _pages(items: int, cap: int) -> int:
    return max(1, math.ceil(items / cap))


def objects_of(refs: Iterable[str]) -> Counter[str]:
    """Person object per ref (``connector:object:id``): Salesforce reads Leads and Contacts in
    separate queries."""
    return Counter(r.split(":", 2)[1] for r in refs)


def reads(vendor: str, refs: Iterable[str]) -> int:
    cap = CAPS[vendor].read
    return sum(_calls(n, cap) for n in objects_of(refs).values())


def _send_list_scan(vendor: str, campaigns: int) -> int:
    return CAPS[vendor].campaign_listing + CAMPAIGN_READS[vendor] * campaigns


def plan_minimum(
    vendor: str, operation: str, refs: list[str], members: int, campaigns: int = 0
) -> int:
    """``campaigns``: campaigns the vendor's listing does not show to be inactive."""
    caps = CAPS[vendor]
    if operation == "update_fields":
        return reads(vendor, refs) + caps.describe_per_object * len(objects_of(refs))
    return reads(vendor, refs) + _pages(members, caps.members) + _send_list_scan(vendor, campaigns)


def apply_minimum(
    vendor: str, operation: str, written: list[str], members: int, campaigns: int = 0
) -> int:
    caps = CAPS[vendor]
    writes = _calls(len(written), caps.write)
    if operation == "update_fields":
        return reads(vendor, written) + writes
    scan = _send_list_scan(vendor, campaigns)
    return reads(vendor, written) + _pages(members, caps.members) + scan + writes


_ID = re.compile(r"/(?:[0-9]+|[0-9A-Za-z]{15,18}|[0-9a-fA-F]{8}-[0-9a-fA-F-]{27})(?=/|\.json|$)")


_FROM = re.compile(r"\bFROM\s+(\w+)", re.IGNORECASE)


def endpoint(method: str, path: str, query: str = "") -> str:
    """``GET /rest/v1/lists/{id}/leads.json``: requests grouped by endpoint, ids folded; a SOQL
    query is told apart by its FROM object."""
    name = f"{method} {_ID.sub('/{id}', path)}"
    if path.endswith("/query") and query:
        soql = " ".join(parse_qs(query).get("q", []))
        if m := _FROM.search(soql):
            name += f" FROM {m.group(1)}"
    return name


def breakdown(requests: list[Any]) -> dict[str, int]:
    counts = Counter(endpoint(r.method, r.path, r.query) for r in requests)
    return dict(counts.most_common())


# --- every write kind (``bench.budget``) ------------------------------------------------------
#
# A plan must read every target (batched, per person object) and what its operation decides
# on; an apply must re-read every record it writes (the stale check, consent included) and
# what the plan's decision rested on, then write in the vendor's batches:
#
# * update_fields: + one describe per person object (plan); writes at the update batch.
# * add_to_list: + the list's members (pages) + the compliance floor (below); list-add batch.
# * remove_from_list: + the list's members; list-remove batch (a removal is never a send).
# * set_campaign_status: + the campaign with its ladder (plan only; ``CAMPAIGN_WITH_LADDER``)
#   + its members (pages); the vendor's status batch.
# * trigger_campaign: + the campaign (plan only, is it triggerable) + the floor's same-address
#   lookup (a trigger is always a send); trigger batch (Marketo 100).
# * opt_out: nothing more; writes at the vendor's opt-out batch (Marketo Sync Leads 300,
#   HubSpot unsubscribe-all batch 100, Salesforce collections 200).
#
# The floor on a list add needs two facts only where they can change the answer: which lists
# feed sends (S, the campaign scan) and who else shares each address (L, one batched lookup,
# as many calls as the vendor's caps and URL length make it). The fewest calls that settle it:
#   someone blocked by their own record:  S, and L too if the list feeds sends;
#   nobody blocked by their own record:   if the lookup blocks someone: S + L if the list
#                                          feeds sends, else S; if it blocks nobody: the
#                                          cheaper of S and L (either proves nobody is blocked).
# S at the vendor's caps: Marketo a page of programs and of smart campaigns (200 each), the
# smart list of every active smart campaign (the audience is in its rules; no listing carries
# it) and one lookup of the list names those rules give (``lists.json`` takes several names);
# HubSpot a page of campaigns (100) and two asset reads (emails, lists) per campaign not shown
# inactive; Salesforce one query of Campaigns (an emailing campaign is its own audience).


# A campaign read with its member status ladder: Marketo's program carries it (its channel's
# ladder is read once per client); Salesforce keeps it in CampaignMemberStatus, a second query
# (a relationship sub-query could make it one; the sandbox's SOQL has none, so it is not
# counted as possible).
CAMPAIGN_WITH_LADDER = {"marketo": 1, "hubspot": 1, "salesforce": 2}
# Who may own records: HubSpot lists active and archived (departed) owners separately, and a
# reassignment must see both (records of someone who left are what it is for).
OWNER_LISTING = {"marketo": 1, "hubspot": 2, "salesforce": 1}


@dataclass
class Facts:
    """What the minimum of one call depends on, read with a client of its own."""

    objects: Counter[str] = field(default_factory=Counter)
    list_members: int = 0
    campaign_members: int = 0
    own_blocked: int = 0
    other_blocked: int = 0
    feeds_sends: bool = False
    lookup_calls: int = 0  # the same-address lookup at the vendor's caps (0: nothing to look up)
    scan_calls: int = 0  # S, from the campaign counts

    def summary(self) -> dict[str, Any]:
        return {k: (dict(v) if isinstance(v, Counter) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Minimum:
    calls: int
    parts: dict[str, int]


def oracle_client(vendor: str, emu: Any) -> Any:
    """A client of its own (no cache shared with the measured one), unpaced."""
    from importlib import import_module

    from bench.common import fast_client_options

    connect = import_module(f"mopsgate.sandbox.{vendor}.connect")
    return connect.sandbox_client(emu, **fast_client_options())


async def scan_minimum(vendor: str, client: Any) -> int:
    from mopsgate.governance.send_lists import email_campaigns

    listed = []
    cursor = None
    while True:
        page = await client.list_campaigns(cursor=cursor, limit=200)
        listed += page.items
        if not (cursor := page.next_cursor):
            break
    if vendor == "salesforce":
        return _pages(len(listed), 2000)
    if vendor == "hubspot":
        return _pages(len(listed), 100) + 2 * sum(c.active is not False for c in listed)
    programs = [c for c in listed if c.kind == "program"]
    smart = [c for c in listed if c.kind == "smart_campaign"]
    campaigns, _ = await email_campaigns(client)
    names = any(
        c.audience_list_ref or not c.audience_known for c in campaigns if c.kind == "smart_campaign"
    )
    active = sum(c.active is not False for c in smart)
    return _pages(len(programs), 200) + _pages(len(smart), 200) + active + int(names)


async def read_facts(
    vendor: str, emu: Any, runtime: Any, operation: str, args: dict[str, Any], refs: list[str]
) -> Facts:
    from mopsgate.governance import planning as pl
    from mopsgate.governance import send_lists
    from mopsgate.governance.consent_floor import express_consent, floor_blocks, person_blocks

    client = oracle_client(vendor, emu)
    facts = Facts(objects=objects_of(refs))
    try:
        if operation in ("add_to_list", "remove_from_list"):
            facts.list_members = len(await pl.list_member_refs(client, args["list_ref"]))
        if operation == "set_campaign_status":
            statuses = await pl.campaign_statuses(client, args["campaign_ref"])
            facts.campaign_members = len(statuses)
        if operation in ("add_to_list", "trigger_campaign"):
            people = list((await pl.read_people(client, refs)).values())
            express = express_consent(runtime.holder.manifest, vendor)
            facts.own_blocked = sum(person_blocks(p, express) is not None for p in people)
            first = len(emu.core.requests)
            blocks = await floor_blocks(client, people, express)
            facts.lookup_calls = len(emu.core.requests) - first
            facts.other_blocked = len(blocks) - facts.own_blocked
        if operation == "add_to_list":
            lists = await send_lists.scan(client, runtime.holder.manifest)
            facts.feeds_sends = lists.feeds_sends(args["list_ref"])
        if operation in ("add_to_list", "archive_list"):
            facts.scan_calls = await scan_minimum(vendor, client)
    finally:
        await client.aclose()
    return facts


def floor_minimum(f: Facts) -> int:
    s, lookup = f.scan_calls, f.lookup_calls
    if f.own_blocked:
        return s + (lookup if f.feeds_sends else 0)
    if f.other_blocked:
        return s + lookup if f.feeds_sends else s
    return min(s, lookup)


def _reads(vendor: str, f: Facts) -> int:
    cap = CAPS[vendor].read
    return sum(_calls(n, cap) for n in f.objects.values())


def kind_minimum(vendor: str, kind: str, phase: str, refs: list[str], f: Facts) -> Minimum:
    """``kind``: a plan operation, or a write kind that plans one (a revert of an update, a
    reassignment of an owner's people are updates; a merge, an archive are their own)."""
    from mopsgate.connectors.capabilities import capabilities_of

    caps = capabilities_of(vendor)
    plan = phase == "plan"
    if kind == "archive_list":  # the list itself and who sends to it; the write is one call
        archive = {"the list": 1, "campaign scan": f.scan_calls} | ({} if plan else {"writes": 1})
        return Minimum(sum(archive.values()), archive)
    operation = {"revert": "update_fields", "reassign_owner": "update_fields"}.get(kind, kind)
    parts: dict[str, int] = {"person reads": _reads(vendor, f)}
    if kind == "reassign_owner" and plan:  # the owner search returns the records themselves
        parts = {
            "owners": OWNER_LISTING[vendor],
            "owner search": sum(_pages(n, caps.search_page) for n in f.objects.values()),
        }
    if kind == "reassign_owner" and not plan:
        # The apply re-checks that the new owner is still an active owner (an owner who left
        # since the plan would be handed the records: governance/owner_targets.py), a drift
        # check no correct apply can skip, so it is part of the minimum.
        parts["new owner still active"] = OWNER_LISTING[vendor]
    if kind == "merge_people":
        if plan:
            parts["describe"] = 1
        else:  # Marketo merges up to 3 losers a call, HubSpot one pair a call
            parts["writes"] = 1 if vendor == "marketo" else len(refs) - 1
        return Minimum(sum(parts.values()), parts)
    if operation == "update_fields" and plan:
        parts["describe per object"] = len(f.objects)
    if operation in ("add_to_list", "remove_from_list"):
        parts["list members"] = _pages(f.list_members, caps.member_page)
    if operation == "add_to_list":
        parts["floor (scan / same-address lookup)"] = floor_minimum(f)
    if operation == "set_campaign_status":
        if plan:
            parts["campaign and its ladder"] = CAMPAIGN_WITH_LADDER[vendor]
        parts["campaign members"] = _pages(f.campaign_members, caps.campaign_member_page)
    if operation == "trigger_campaign":
        if plan:
            parts["campaign"] = 1
        parts["same-address lookup"] = f.lookup_calls
    if not plan:
        parts["writes"] = _calls(len(refs), caps.batch_for(operation))
    return Minimum(sum(parts.values()), parts)


async def lookup_calls(vendor: str, emu: Any, emails: list[str]) -> int:
    """What one batched lookup of every record of ``emails`` costs on this connector: how a
    change across connectors finds its people (``tools/person_matching.by_email``)."""
    from mopsgate.governance.consent_floor import lookup_forms, normalise_email

    client = oracle_client(vendor, emu)
    try:
        keys = {k for e in emails if (k := normalise_email(e))}
        forms = sorted({form for key in keys for form in lookup_forms(key)})
        first = len(emu.core.requests)
        await client.people_by_email(forms)
        # a fresh client's token request is not part of the lookup
        return sum("oauth" not in r.path for r in emu.core.requests[first:])
    finally:
        await client.aclose()


def across_minimum(
    vendor: str, operation: str, phase: str, refs: list[str], f: Facts, lookup: int
) -> Minimum:
    """One connector's part of a change across connectors, planned: the people are found by
    one lookup of their addresses, which returns every record of each address whole, so the
    plan reads nothing again, and the floor's same-address lookup is that one."""
    if not refs:  # nobody there: the lookup alone
        return Minimum(lookup, {"address lookup": lookup})
    base = kind_minimum(vendor, operation, phase, refs, replace(f, lookup_calls=0))
    parts = {"address lookup": lookup} | {
        k: v for k, v in base.parts.items() if k != "person reads"
    }
    return Minimum(sum(parts.values()), parts)

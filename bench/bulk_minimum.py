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
from dataclasses import dataclass
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
# carries them. (Marketo's smart-campaign audience is a per-campaign read too; it is not
# counted here, so Marketo's list-add ratios are overstated, never understated.)
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

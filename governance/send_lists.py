"""Which lists feed email sends: adding someone to one of them is a send the floor polices.

A list is a send list when the vendor names it as the audience of an active email campaign.
Where the vendor cannot name every such list — a connector whose sends run on a platform it
cannot see (Salesforce), or a campaign whose audience it could not resolve — every other list's
use is unknown, and the floor fails closed: it counts as a send list unless the manifest
declares it is not one (``[[connectors.<name>.not_send_lists]]``). A declaration never
overrides what the vendor names, so the manifest can narrow only what is unknown.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from mopsgate.crm.connector import Connector
from mopsgate.crm.records import Campaign
from mopsgate.crm.refs import parse_ref
from mopsgate.governance.catalogue import Catalogue
from mopsgate.governance.manifest_model import Manifest

MAX_CAMPAIGN_PAGES = 1000
_NATIVE_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


@dataclass(frozen=True)
class SendLists:
    """What is known about one connector's send lists at one moment."""

    connector: str
    named: frozenset[str]  # audiences of active email campaigns, as the vendor names them
    complete: bool  # True: ``named`` is every list that feeds sends
    declared: frozenset[str]  # the manifest's not_send_lists (consulted only when incomplete)

    def feeds_sends(self, list_ref: str) -> bool:
        if list_ref in self.named:
            return True
        return not self.complete and list_ref not in self.declared

    def why(self, list_ref: str) -> str:
        """The reason a blocked record gives, so the assistant can explain the refusal."""
        if list_ref in self.named:
            return "this list feeds email sends"
        return (
            f"{self.connector} cannot show whether this list feeds email sends, so it is "
            "treated as one (the manifest may declare it is not: "
            f"connectors.{self.connector}.not_send_lists)"
        )


def sends_email(campaign: Campaign) -> bool:
    """An active (or not known to be inactive) campaign that sends (or may send) email:
    unknown counts as a send, so a campaign the vendor did not describe is never skipped."""
    return campaign.active is not False and campaign.sends_email is not False


async def email_campaigns(
    client: Connector, *, limit: int | None = None
) -> tuple[list[Campaign], bool]:
    """Every active email campaign, and whether every campaign was looked at (False when
    ``limit`` campaigns were read before the listing ended).

    Summaries from ``list_campaigns`` may leave out the audience and even understate
    ``sends_email`` (vendors return them only on the campaign itself), so the campaigns come
    from ``audience_page``, which settles both on every campaign not known to be inactive in
    the fewest calls the vendor allows. A failed read raises: the floor fails closed."""
    found: list[Campaign] = []
    read = 0
    cursor: str | None = None
    page_size = client.capabilities.campaign_page
    for _ in range(MAX_CAMPAIGN_PAGES):
        size = page_size if limit is None else max(1, min(page_size, limit - read))
        page = await client.audience_page(cursor=cursor, limit=size)
        for full in page.items:
            if full.active is False:
                continue
            if limit is not None and read >= limit:
                return found, False
            read += 1
            if sends_email(full):
                found.append(full)
        cursor = page.next_cursor
        if not cursor:
            return found, True
    return found, False


def from_campaigns(
    client: Connector, campaigns: list[Campaign], all_seen: bool, declared: frozenset[str]
) -> SendLists:
    named = frozenset(c.audience_list_ref for c in campaigns if c.audience_list_ref)
    named_all = client.capabilities.send_audiences_named
    complete = all_seen and named_all and all(c.audience_known for c in campaigns)
    return SendLists(client.name, named, complete, declared)


async def scan(client: Connector, manifest: Manifest) -> SendLists:
    campaigns, all_seen = await email_campaigns(client)
    return from_campaigns(client, campaigns, all_seen, manifest.not_send_lists(client.name))


def check_declarations(m: Manifest, cat: Catalogue, add: Callable[..., None]) -> None:
    """``manifest check``: every declared list is a well-formed list reference of its own
    connector, declared once, with a reason (the evidence an auditor will ask for)."""
    for conn, cfg in m.connectors.items():
        seen: set[str] = set()
        for i, decl in enumerate(cfg.not_send_lists):
            loc = ("connectors", conn, "not_send_lists", i)
            where = f"connectors.{conn}.not_send_lists[{i}]"
            if problem := _ref_problem(cat, conn, decl.ref):
                add((*loc, "ref"), f"{where}.ref: {problem}", decl.ref)
            elif decl.ref in seen:
                add((*loc, "ref"), f"{where}.ref: {decl.ref!r} is declared twice", decl.ref)
            seen.add(decl.ref)
            if not decl.reason.strip():
                add((*loc, "reason"), f"{where}.reason: say why this list feeds no email send")


def _ref_problem(cat: Catalogue, connector: str, ref: str) -> str | None:
    objects = sorted(cat.list_objects.get(connector, ()))
    example = f"'{connector}:{objects[0]}:<id>'" if objects else "'<connector>:<object>:<id>'"
    try:
        conn, obj, native = parse_ref(ref)
    except ValueError:
        return f"{ref!r} is not a list reference; expected {example}"
    if conn != connector:
        return f"{ref!r} is not on {connector}; declare it under connectors.{conn}"
    if objects and obj not in objects:
        return f"{ref!r} is not a list: lists on {connector} are {', '.join(objects)}"
    if not _NATIVE_ID.fullmatch(native):
        return f"{ref!r}: the id may only contain A-Z a-z 0-9 - (at most 64)"
    return None

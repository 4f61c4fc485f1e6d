"""What a large change costs in vendor calls, as the emulators count them (issue #15).

Marketo's daily quota is what a Marketing-Ops team runs out of first, so each test pins the
calls one 1,000-person proposal and its apply make, endpoint by endpoint, at the vendor's batch
sizes (``bench/bulk_minimum.py`` writes the minimum down): reads of 300 / 100 / 200 records, a
member page per list page, the send-list scan at one call per campaign the vendor cannot
describe in its listing, writes at the vendor's batch. Stale refusal, the consent re-check and
the per-batch outcome rows are the other tests' business; these only count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import Client

from bench.bulk import approve_change
from bench.bulk_minimum import breakdown
from bench.common import fast_client_options, fast_emulator, write_bench_manifest
from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.salesforce import ids as sf
from mopsgate.sandbox.seed import seed_data
from mopsgate.server.app import build_runtime, build_server
from mopsgate.server.settings import Settings

N = 1000
SEED = seed_data()
REF = {"marketo": mk.lead_ref, "hubspot": hs.person_ref, "salesforce": sf.person_ref}
LIST = {"marketo": mk.list_ref(3), "hubspot": hs.list_ref(3), "salesforce": sf.list_ref(3)}
LIST0 = {"marketo": mk.list_ref(0), "hubspot": hs.list_ref(0), "salesforce": sf.list_ref(0)}


class Run:
    """A runtime on seeded emulators (their rate windows out of the way: the calls counted
    do not depend on pacing), as the assistant, with the caps of the bench manifest (10,000
    records a change) and its reviewers' keys. Calls are counted per endpoint, over every
    emulator (prefixed with the connector when there are several)."""

    def __init__(self, vendors: tuple[str, ...], tmp: Path) -> None:
        self.vendor = vendors[0]
        self.emus = {v: fast_emulator(v, SEED) for v in vendors}
        self.emu = self.emus[self.vendor]
        self.runtime = build_runtime(
            Settings(write_bench_manifest(tmp / "manifest"), tmp / "home", sandbox="memory"),
            env={},
            emulators=self.emus,
            client_options=fast_client_options(),
        )
        server = build_server(
            self.runtime, transport="memory", resolve_principal=lambda _: "assistant"
        )
        self.client = Client(server)

    async def call(self, tool: str, args: dict[str, Any]) -> tuple[dict[str, Any], Counter[str]]:
        first = {v: len(e.core.requests) for v, e in self.emus.items()}
        result = await self.client.call_tool(tool, args)
        assert not result.is_error, result.content[0].text  # type: ignore[union-attr]
        calls: Counter[str] = Counter()
        for v, e in self.emus.items():
            prefix = f"{v} " if len(self.emus) > 1 else ""
            for name, n in breakdown(e.core.requests[first[v] :]).items():
                calls[prefix + name] += n
        return dict(result.structured_content or {}), calls

    async def plan_and_apply(
        self, tool: str, args: dict[str, Any]
    ) -> tuple[Counter[str], Counter[str]]:
        proposal, plan = await self.call(tool, args)
        await approve_change(
            self.runtime.settings.db_path, self.runtime.holder.manifest, proposal["change_id"]
        )
        applied, apply = await self.call(
            "apply_change",
            {
                "change_id": proposal["change_id"],
                "confirmation_token": proposal["confirmation_token"],
            },
        )
        assert applied["status"] == "applied"
        return plan, apply


@asynccontextmanager
async def running(*vendors: str, tmp: Path) -> AsyncIterator[Run]:
    r = Run(vendors, tmp)
    async with r.client:
        for vendor in vendors:  # the tokens, before any count
            await r.call("get_person", {"ref": REF[vendor](0)})
        yield r


def people(vendor: str) -> list[str]:
    return [REF[vendor](i) for i in range(N)]


def list_add(vendor: str) -> dict[str, Any]:
    return {"list_ref": LIST[vendor], "person_refs": people(vendor), "reason": "budget test"}


async def test_a_1000_person_marketo_list_add_plans_in_11_calls(tmp_path: Path) -> None:
    async with running("marketo", tmp=tmp_path) as run:
        plan, apply = await run.plan_and_apply("propose_add_to_list", list_add("marketo"))
        scan = {  # which lists feed sends: no listing carries a smart campaign's audience
            "GET /rest/asset/v1/programs.json": 1,
            "GET /rest/asset/v1/smartCampaigns.json": 1,
            # one per active campaign that may email: 3 of 4 (the trade show's Event program
            # sends none, so its audience is no send list and is not read)
            "GET /rest/asset/v1/smartCampaign/{id}/smartList.json": 3,
            "GET /rest/v1/lists.json": 1,  # every list name those smart lists give, together
        }
        assert plan == {
            "GET /rest/v1/leads.json": 4,  # 1,000 leads, 300 a call
            "GET /rest/v1/lists/{id}/leads.json": 1,  # the list's members, ids only, 300 a page
            **scan,
        }
        assert apply == {
            "GET /rest/v1/leads.json": 3,  # the stale check re-reads every record it writes
            "GET /rest/v1/lists/{id}/leads.json": 1,
            **scan,  # the floor again: someone is blocked by their own record
            "POST /rest/v1/lists/{id}/leads.json": 3,  # those not yet members, 300 a call
        }
        assert sum(plan.values()) == 11 and sum(apply.values()) == 13


def newsletter(vendor: str) -> dict[str, Any]:
    """Everyone on the seeded "Newsletter - Monthly" list (900 people) off it."""
    refs = [REF[vendor](i) for i in SEED.lists[0].members]
    return {"list_ref": LIST0[vendor], "person_refs": refs, "reason": "budget test"}


async def test_list_membership_is_read_as_ids_without_the_members_records(tmp_path: Path) -> None:
    """Before: every member page of 250 was followed by reads of its members' records."""
    async with running("hubspot", tmp=tmp_path) as run:
        plan, apply = await run.plan_and_apply("propose_remove_from_list", newsletter("hubspot"))
        reads = {
            "POST /crm/v3/objects/contacts/batch/read": 9,  # 900 contacts, 100 a call
            "GET /crm/v3/lists/{id}/memberships": 4,  # 900 member ids, 250 a page
        }
        assert plan == reads
        assert apply == {**reads, "PUT /crm/v3/lists/{id}/memberships/remove": 9}


async def test_a_salesforce_removal_writes_with_the_member_ids_its_re_read_found(
    tmp_path: Path,
) -> None:
    """Before: each batch of 200 looked its CampaignMember ids up again."""
    async with running("salesforce", tmp=tmp_path) as run:
        args = newsletter("salesforce")
        objects = Counter(ref.split(":")[1] for ref in args["person_refs"])
        plan, apply = await run.plan_and_apply("propose_remove_from_list", args)
        reads = {
            f"GET /services/data/v62.0/query FROM {obj}": -(-n // 200)  # 200 ids a query
            for obj, n in objects.items()
        } | {"GET /services/data/v62.0/query FROM CampaignMember": 1}  # 2,000 a page
        assert plan == reads
        assert apply == {**reads, "DELETE /services/data/v62.0/composite/sobjects": 5}


async def test_a_hubspot_opt_out_unsubscribes_the_addresses_its_re_read_found(
    tmp_path: Path,
) -> None:
    """Before: each batch of 100 read its contacts' emails again after the stale check."""
    async with running("hubspot", tmp=tmp_path) as run:
        args = {"connector": "hubspot", "person_refs": people("hubspot"), "reason": "budget test"}
        plan, apply = await run.plan_and_apply("propose_opt_out", args)
        assert plan == {"POST /crm/v3/objects/contacts/batch/read": 10}
        unsubscribe = "POST /communication-preferences/2026-03/statuses/batch/unsubscribe-all"
        assert apply == {"POST /crm/v3/objects/contacts/batch/read": 10, unsubscribe: 10}


async def test_a_marketo_trigger_reads_the_campaign_once(tmp_path: Path) -> None:
    """A trigger sends to the people it names: the campaign's own audience is not read."""
    async with running("marketo", tmp=tmp_path) as run:
        campaigns, _ = await run.call("list_campaigns", {"connector": "marketo", "limit": 100})
        triggerable = next(c["ref"] for c in campaigns["items"] if c["triggerable"])
        args = {
            "campaign_ref": triggerable,
            "person_refs": people("marketo"),
            "reason": "budget test",
        }
        _, plan = await run.call("propose_trigger_campaign", args)
        lookup = plan.pop("GET /rest/v1/leads.json") - 4  # 4 reads of 300, then the floor's lookup
        assert plan == {"GET /rest/asset/v1/smartCampaign/{id}.json": 1}
        assert 0 < lookup <= 7  # the same-address lookup of ~830 addresses, 150-300 a call


async def test_a_reassignment_plans_on_the_records_its_owner_search_returned(
    tmp_path: Path,
) -> None:
    """Before: every record the search had just returned was read again, 100 a call."""
    async with running("hubspot", tmp=tmp_path) as run:
        owners, _ = await run.call("list_owners", {"connector": "hubspot"})
        busiest = sorted(
            (o for o in owners["owners"] if o["active"]), key=lambda o: -o["record_count"]
        )
        args = {
            "connector": "hubspot",
            "from_owner": busiest[0]["ref"],
            "to_owner": busiest[1]["ref"],
            "reason": "budget test",
        }
        _, plan = await run.call("propose_reassign_owner", args)
        assert plan == {
            "GET /crm/v3/owners": 2,  # active owners, and archived ones (people who left)
            "POST /crm/v3/objects/contacts/search": -(-busiest[0]["record_count"] // 200),
            "GET /crm/v3/properties/contacts": 1,  # is the owner field writable
        }


async def test_an_opt_out_everywhere_plans_on_its_address_lookups_alone(tmp_path: Path) -> None:
    """Before: every record each connector's lookup had returned was read again."""
    async with running("marketo", "hubspot", "salesforce", tmp=tmp_path) as run:
        emails = [p.email for p in SEED.people[:200]]
        _, plan = await run.call(
            "propose_opt_out_everywhere", {"emails": emails, "reason": "budget test"}
        )
        assert plan == {
            "marketo GET /rest/v1/leads.json": 2,  # filterType=email, as many as fit a URL
            "hubspot POST /crm/v3/objects/contacts/search": 2,  # email IN (100 addresses)
            "salesforce GET /services/data/v62.0/query FROM Lead": 2,  # Email IN (...)
            "salesforce GET /services/data/v62.0/query FROM Contact": 2,
        }

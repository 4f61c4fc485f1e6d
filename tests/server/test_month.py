"""The scripted Marketing-Ops month of issue #17: the twenty kinds of request a team gives an
assistant in a normal month, driven through the MCP in-memory client on the sandbox, one
after another on the same data (as in a real month, one request's change is there for the
next). Each must finish cleanly: every tool call answered (no refusal unless the request is
about one), every proposal reviewed by signed human decisions and applied. The number of tool
calls each request takes is recorded below and asserted, so a change that makes a request
clumsier again shows up here; nothing is timed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.salesforce import ids as sf
from mopsgate.sandbox.seed import seed_data
from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import text_of
from tests.server.e2e_support import approve
from tests.support.unpaced import unpaced_runtime  # noqa: F401 - the runtime fixture here

SEED = seed_data()
REASON = "Requested by the MOPs team in this month's clean-up"
NEWSLETTER, WEBINAR_LIST, LEGACY_LIST, COMPETITORS = 0, 1, 2, 6
NEWSLETTER_CAMPAIGN, WEBINAR = 0, 1


class Month:
    """Counts every tool call of the request under way and fails on any refusal not asked
    for. Reviews are signed human decisions in the CLI, not tool calls, so not counted."""

    def __init__(self, client: Any, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.request = ""
        self.calls: Counter[str] = Counter()

    async def call(self, tool: str, **args: Any) -> dict[str, Any]:
        self.calls[self.request] += 1
        result = await self.client.call_tool(tool, args)
        assert not result.is_error, f"{self.request}: {tool}: {text_of(result)}"
        out: dict[str, Any] = result.structured_content
        return out

    async def refused(self, tool: str, **args: Any) -> str:
        self.calls[self.request] += 1
        result = await self.client.call_tool(tool, args)
        assert result.is_error, f"{self.request}: {tool} was not refused"
        return text_of(result)

    async def through_review(self, plan: dict[str, Any], *reviewers: str) -> None:
        """Signed approvals by the named reviewers, then the apply (one tool call)."""
        for reviewer in reviewers or ("mops-lead",):
            approve(self.settings, plan["change_id"], reviewer)
        done = await self.call(
            "apply_change",
            change_id=plan["change_id"],
            confirmation_token=plan["confirmation_token"],
        )
        assert done["status"] == "applied", (self.request, done)


async def list_hygiene(m: Month) -> None:
    lst = hs.list_ref(NEWSLETTER)
    counts = await m.call("search_people", connector="hubspot", list_ref=lst, group_by="consent")
    assert counts["complete"] and counts["groups"]["subscribed"] < counts["count"]
    page = await m.call(
        "search_people", connector="hubspot", list_ref=lst, consent="opted_out", limit=100
    )
    refs = [p["ref"] for p in page["items"]]
    assert len(refs) == counts["groups"]["opted_out"]
    plan = await m.call("propose_remove_from_list", list_ref=lst, person_refs=refs, reason=REASON)
    await m.through_review(plan)


async def consent_audit(m: Month) -> None:
    out = await m.call("find_consent_conflicts", connector="marketo")
    assert out["complete"] and out["total_conflicts"] > 0


async def webinar_invites(m: Month) -> None:
    found = await m.call(
        "search_people",
        connector="marketo",
        list_ref=mk.list_ref(NEWSLETTER),
        score_min=70,
        title_contains="marketing",
        consent="subscribed",
        not_in_list_ref=mk.list_ref(WEBINAR_LIST),
        limit=20,
    )
    assert len(found["items"]) == 20
    plan = await m.call(
        "propose_add_to_list",
        list_ref=mk.list_ref(WEBINAR_LIST),
        person_refs=[p["ref"] for p in found["items"]],
        reason=REASON,
    )
    await m.through_review(plan)


def webinar_members(status: str) -> list[int]:
    return [i for i, s in SEED.campaigns[WEBINAR].members if s == status]


async def webinar_statuses(m: Month) -> None:
    registered = [sf.person_ref(i) for i in webinar_members("Registered")[:10]]
    plan = await m.call(
        "propose_set_campaign_status",
        campaign_ref=sf.campaign_ref(WEBINAR),
        person_refs=registered,
        status="Attended",
        reason=REASON,
    )
    assert not plan["blocked"]
    await m.through_review(plan)


async def status_for_a_stranger(m: Month) -> None:
    members = {i for i, _ in SEED.campaigns[WEBINAR].members}
    outsider = next(p.idx for p in SEED.people if p.idx not in members)
    text = await m.refused(
        "propose_set_campaign_status",
        campaign_ref=sf.campaign_ref(WEBINAR),
        person_refs=[sf.person_ref(outsider)],
        status="Attended",
        reason=REASON,
    )
    assert "propose_add_to_list" in text  # the plan offers the add instead of failing later


async def duplicates(m: Month) -> None:
    out = await m.call("find_duplicates", connector="hubspot", match="email", limit=100)
    assert out["groups"] and {g["confidence"] for g in out["groups"]} == {"high"}


async def merge(m: Month) -> None:
    out = await m.call("find_duplicates", connector="hubspot", match="name+company", limit=100)
    group = next(g for g in out["groups"] if g["confidence"] == "medium")
    survivor = group["suggested_survivor"]
    plan = await m.call(
        "propose_merge_people",
        survivor=survivor,
        losers=[r for r in group["people"] if r != survivor],
        reason=REASON,
    )
    await m.through_review(plan, "mops-lead", "compliance")


async def owner_left(m: Month) -> None:
    """Who owned what, on every system; then the Salesforce records of the one who left go to
    an active owner, as a reviewed lifecycle change batched under the cap."""
    gone: dict[str, dict[str, Any]] = {}
    heir = ""
    for conn in ("marketo", "hubspot", "salesforce"):
        owners = (await m.call("list_owners", connector=conn))["owners"]
        gone[conn] = next(o for o in owners if not o["active"])
        assert gone[conn]["record_count"] > 300, (conn, gone[conn])
        heir = next(o["ref"] for o in owners if o["active"])
    plan = await m.call(
        "propose_reassign_owner",
        connector="salesforce",
        from_owner=gone["salesforce"]["ref"],
        to_owner=heir,
        reason=REASON,
    )
    assert plan["risk_class"] == "lifecycle" and plan["records_total"] > 0
    await m.through_review(plan)


async def lifecycle_fix(m: Month) -> None:
    stuck = await m.call(
        "search_people",
        connector="hubspot",
        lifecycle_stage="lead",
        score_min=110,
        limit=5,
    )
    refs = [p["ref"] for p in stuck["items"]]
    assert refs
    plan = await m.call(
        "propose_update_person",
        refs=refs,
        fields={"lifecyclestage": "marketingqualifiedlead"},
        reason=REASON,
    )
    assert plan["risk_class"] == "lifecycle"
    await m.through_review(plan)


async def score_check(m: Month) -> None:
    out = await m.call(
        "search_people", connector="salesforce", score_min=100, group_by="lifecycle_stage"
    )
    assert out["complete"] and sum(out["groups"].values()) == out["count"] > 0


async def one_person(m: Month) -> None:
    person = SEED.people[300]
    out = await m.call("resolve_person", emails=[person.email])
    (found,) = out["people"]
    assert sorted(found["found_on"]) == ["hubspot", "marketo", "salesforce"]


async def consent_drift(m: Month) -> None:
    out = await m.call("find_cross_system_drift", kinds=["consent"])
    assert out["complete"] and out["counts"]["consent"] > 0 and out["items"]


async def quarter_report(m: Month) -> None:
    out = await m.call(
        "campaign_report",
        campaign_refs=[hs.campaign_ref(i) for i in range(4)],
        since="2026-01-01T00:00:00Z",
        until="2026-04-01T00:00:00Z",
    )
    assert out["complete"] and len(out["campaigns"]) == 4


async def performance(m: Month) -> None:
    out = await m.call("campaign_performance", campaign_ref=mk.program_ref(WEBINAR))
    assert out["complete"] and out["success_rate"] is not None


async def quota(m: Month) -> None:
    for conn in ("marketo", "hubspot", "salesforce"):
        out = await m.call("api_budget", connector=conn)
        assert out["connector"] == conn


async def legacy_list(m: Month) -> None:
    found = await m.call("list_lists", connector="salesforce", name_contains="DO NOT DELETE")
    (legacy,) = found["items"]
    usage = await m.call("get_list_usage", list_ref=legacy["ref"])
    assert usage["owner"].endswith("(left)") and usage["feeds_sends"] is False
    plan = await m.call("propose_archive_list", list_ref=legacy["ref"], reason=REASON)
    await m.through_review(plan)


async def gdpr_unsubscribe(m: Month) -> None:
    idx = next(
        p.idx
        for p in SEED.people[1200:]
        if p.consent_status == "subscribed" and p.duplicate_of is None
    )
    refs = {
        "marketo": mk.lead_ref(idx),
        "hubspot": hs.person_ref(idx),
        "salesforce": sf.person_ref(idx),
    }
    resolved = await m.call("resolve_person", refs=[refs["marketo"]])
    assert len(resolved["people"][0]["found_on"]) == 3
    plan = await m.call("propose_opt_out_everywhere", refs=[refs["marketo"]], reason=REASON)
    assert sorted(plan["connector"].split("+")) == sorted(refs)  # one change, one review
    await m.through_review(plan, "compliance")


async def title_fix(m: Month) -> None:
    found = await m.call(
        "search_people",
        connector="salesforce",
        list_ref=sf.list_ref(NEWSLETTER),
        title_contains="ops analyst",
        limit=5,
    )
    refs = [p["ref"] for p in found["items"] if p["object"] == "Lead"]
    plan = await m.call(
        "propose_update_person", refs=refs, fields={"Title": "Operations Analyst"}, reason=REASON
    )
    await m.through_review(plan)


async def welcome_trigger(m: Month) -> None:
    campaign = mk.smart_campaign_ref(2)
    audience = {i for i in SEED.lists[5].members}
    fresh = [
        mk.lead_ref(p.idx)
        for p in SEED.people[1500:]
        if p.consent_status == "subscribed" and p.duplicate_of is None and p.idx not in audience
    ][:3]
    plan = await m.call(
        "propose_trigger_campaign", campaign_ref=campaign, person_refs=fresh, reason=REASON
    )
    await m.through_review(plan, "mops-lead", "compliance")


async def competitors(m: Month) -> None:
    counts = await m.call(
        "search_people",
        connector="hubspot",
        list_ref=hs.list_ref(NEWSLETTER),
        group_by="email_domain",
    )
    domain = next(iter(counts["groups"]))
    found = await m.call(
        "search_people",
        connector="hubspot",
        list_ref=hs.list_ref(NEWSLETTER),
        email_domain=domain,
        not_in_list_ref=hs.list_ref(COMPETITORS),
        limit=10,
    )
    plan = await m.call(
        "propose_add_to_list",
        list_ref=hs.list_ref(COMPETITORS),
        person_refs=[p["ref"] for p in found["items"]],
        reason=REASON,
    )
    await m.through_review(plan)


# request -> (what it does, the tool calls it takes)
REQUESTS: dict[str, tuple[Callable[[Month], Awaitable[None]], int]] = {
    "01 list hygiene: opted-out people out of the newsletter list": (list_hygiene, 4),
    "02 pre-send consent audit": (consent_audit, 1),
    "03 webinar invite list from a scored segment": (webinar_invites, 3),
    "04 webinar attendance statuses": (webinar_statuses, 2),
    "05 a status for someone not registered": (status_for_a_stranger, 1),
    "06 duplicates report with confidence": (duplicates, 1),
    "07 merge a confirmed duplicate": (merge, 3),
    "08 owner who left: their records to an active owner": (owner_left, 5),
    "09 lifecycle fix for high scorers stuck as lead": (lifecycle_fix, 3),
    "10 score check by lifecycle stage": (score_check, 1),
    "11 one person across MAP and CRM": (one_person, 1),
    "12 consent drift between systems": (consent_drift, 1),
    "13 quarter report over several campaigns": (quarter_report, 1),
    "14 one campaign's performance": (performance, 1),
    "15 API quota": (quota, 3),
    "16 legacy list clean-up: who uses it, then archive it": (legacy_list, 4),
    "17 GDPR unsubscribe everywhere": (gdpr_unsubscribe, 3),
    "18 job title fix": (title_fix, 3),
    "19 welcome trigger for new subscribers": (welcome_trigger, 2),
    "20 competitor addresses into the suppression list": (competitors, 4),
}


async def test_a_marketing_ops_month(connect, runtime: Runtime, settings: Settings):
    async with connect("assistant") as client:
        month = Month(client, settings)
        for request, (run, _) in REQUESTS.items():
            month.request = request
            await run(month)
    assert dict(month.calls) == {request: calls for request, (_, calls) in REQUESTS.items()}

"""get_list_usage and campaign_report on every connector (issue #17, item 6), against the seed."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.salesforce import ids as sf
from tests.tools.seed_facts import NAMES, SEED, VENDORS
from tests.tools.test_reads_per_vendor import ok, refused

NEWSLETTER_LIST, LEGACY_LIST = 0, 2
NEWSLETTER, WEBINAR, LEGACY = 0, 1, 4
SINCE = datetime(2026, 1, 1, tzinfo=UTC)
TYPES = {
    "email_sent": "sent",
    "email_delivered": "delivered",
    "email_opened": "opened",
    "email_clicked": "clicked",
    "email_bounced": "bounced",
    "unsubscribed": "unsubscribed",
}
# the campaign that names a seed campaign's audience list, per vendor (Marketo: its smart
# campaign; Salesforce names none: its e-mail platform is outside the API)
AUDIENCE_OWNER = {
    "marketo": mk.smart_campaign_ref,
    "hubspot": hs.campaign_ref,
}


def sends(camp: int) -> list[datetime]:
    return [
        a.occurred_at for a in SEED.activities if a.campaign_idx == camp and a.type == "email_sent"
    ]


@pytest.mark.parametrize("name", NAMES)
async def test_list_usage_names_the_campaigns_their_sends_and_the_floor(name, connect):
    v = VENDORS[name]
    async with connect("assistant") as client:
        news = await ok(client, "get_list_usage", {"list_ref": v.list_ref(NEWSLETTER_LIST)})
        legacy = await ok(client, "get_list_usage", {"list_ref": v.list_ref(LEGACY_LIST)})
    assert news["feeds_sends"] is True and legacy["feeds_sends"] is False
    assert news["complete"] is True
    if name == "salesforce":  # no campaign can name its audience: said, and the owner is known
        assert news["used_by"] == [] and "cannot show" in news["notes"]
        assert legacy["owner"].endswith("(left)") and news["owner"].endswith("(active)")
        return
    ref = AUDIENCE_OWNER[name]
    assert [(u["campaign_ref"], u["sends"]) for u in news["used_by"]] == [
        (ref(NEWSLETTER), len(sends(NEWSLETTER)))
    ]
    assert news["last_used_at"] == max(sends(NEWSLETTER)).isoformat().replace("+00:00", "Z")
    (old,) = legacy["used_by"]
    assert old["campaign_ref"] == ref(LEGACY) and old["active"] is False
    assert old["sends"] == len(sends(LEGACY))


@pytest.mark.parametrize("name", NAMES)
async def test_campaign_report_counts_every_connector_alike(name, connect):
    v = VENDORS[name]
    refs = [v.members_ref(NEWSLETTER), v.members_ref(WEBINAR)]
    async with connect("analyst") as client:
        report = await ok(
            client, "campaign_report", {"campaign_refs": refs, "since": "2026-01-01T00:00:00Z"}
        )
    lines = {line["campaign_ref"]: line for line in report["campaigns"]}
    totals: Counter[str] = Counter()
    for idx, ref in zip((NEWSLETTER, WEBINAR), refs, strict=True):
        acts = [
            a
            for a in SEED.activities
            if a.campaign_idx == idx and a.type in TYPES and a.occurred_at >= SINCE
        ]
        expected = Counter(TYPES[a.type] for a in acts)
        distinct = Counter(TYPES[t] for t, _ in {(a.type, a.person_idx) for a in acts})
        assert lines[ref]["email"] == {k: expected[k] for k in TYPES.values()}
        assert lines[ref]["people"] == {k: distinct[k] for k in TYPES.values()}
        assert lines[ref]["members"] == len(SEED.campaigns[idx].members)
        totals.update(expected)
    assert report["totals"] == {k: totals[k] for k in TYPES.values()}
    assert report["complete"] is True
    if name != "hubspot":  # HubSpot campaigns have no status ladder: counts by attribution
        statuses = Counter(s for _, s in SEED.campaigns[NEWSLETTER].members)
        assert lines[refs[0]]["member_status"] == dict(sorted(statuses.items()))


async def test_campaign_report_refuses_a_mix_and_a_bad_window(connect):
    async with connect("assistant") as client:
        mixed = await refused(
            client,
            "campaign_report",
            {"campaign_refs": [hs.campaign_ref(0), sf.campaign_ref(0)]},
        )
        window = await refused(
            client,
            "campaign_report",
            {
                "campaign_refs": [hs.campaign_ref(0)],
                "since": "2026-02-01T00:00:00Z",
                "until": "2026-01-01T00:00:00Z",
            },
        )
    assert mixed.startswith("[") and "one connector" in mixed, mixed
    assert window.startswith("[invalid_input] since must be before until"), window

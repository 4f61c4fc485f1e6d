"""search_people's filters, counts and full pages on every connector (issue #17, item 4),
checked against the seed, never against what an emulator or client says."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support.unpaced import unpaced_runtime  # noqa: F401 - the runtime fixture here
from tests.tools.seed_facts import NAMES, SEED, VENDORS
from tests.tools.test_reads_per_vendor import ok, refused

NEWSLETTER, WEBINAR = 0, 1
SINCE = datetime(2026, 1, 1, tzinfo=UTC)


def members(list_idx: int) -> list[Any]:
    return [SEED.people[i] for i in SEED.lists[list_idx].members]


async def pages(client: Any, args: dict[str, Any], limit: int) -> list[list[dict[str, Any]]]:
    out: list[list[dict[str, Any]]] = []
    cursor = None
    for _ in range(200):
        page = await ok(client, "search_people", {**args, "limit": limit, "cursor": cursor})
        out.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return out
    raise AssertionError("paging did not end")


@pytest.mark.parametrize("name", NAMES)
async def test_score_and_title_filters_fill_every_page(name, connect):
    v = VENDORS[name]
    args = {
        "connector": name,
        "list_ref": v.list_ref(NEWSLETTER),
        "score_min": 60,
        "score_max": 90,
        "title_contains": "MARKET",
    }
    expected = {
        v.person_ref(p.idx)
        for p in members(NEWSLETTER)
        if 60 <= p.score <= 90 and "market" in p.title.casefold()
    }
    async with connect("assistant") as client:
        got = await pages(client, args, limit=9)
        first = await ok(client, "search_people", {**args, "limit": 9})
    refs = [item["ref"] for page in got for item in page]
    assert len(expected) > 30 and sorted(refs) == sorted(expected)
    assert all(len(page) == 9 for page in got[:-1])  # a filter never returns a short page early
    assert first["filtered_by_mopsgate"] == ["score_min", "score_max", "title_contains"]


@pytest.mark.parametrize("name", NAMES)
async def test_email_domain_and_not_in_list(name, connect):
    v = VENDORS[name]
    in_webinar = set(SEED.lists[WEBINAR].members)
    expected = {
        v.person_ref(p.idx)
        for p in members(NEWSLETTER)
        if p.email.strip().casefold().endswith("@globex.test") and p.idx not in in_webinar
    }
    args = {
        "connector": name,
        "list_ref": v.list_ref(NEWSLETTER),
        "email_domain": "@Globex.test",
        "not_in_list_ref": v.list_ref(WEBINAR),
    }
    async with connect("assistant") as client:
        got = await pages(client, args, limit=25)
    refs = {item["ref"] for page in got for item in page}
    assert len(expected) > 10 and refs == expected


@pytest.mark.parametrize("name", NAMES)
async def test_counts_and_grouped_counts_return_no_records(name, connect, settings):
    v = VENDORS[name]
    scope = {"connector": name, "list_ref": v.list_ref(NEWSLETTER)}
    async with connect("assistant") as client:
        recent = await ok(
            client,
            "search_people",
            {**scope, "updated_since": "2026-01-01T00:00:00Z", "count_only": True},
        )
        by_consent = await ok(client, "search_people", {**scope, "group_by": "consent"})
        by_domain = await ok(
            client, "search_people", {**scope, "group_by": "email_domain", "score_min": 100}
        )
    assert recent["items"] == [] and recent["complete"] is True
    assert recent["count"] == sum(p.updated_at >= SINCE for p in members(NEWSLETTER))
    assert by_consent["groups"] == dict(
        sorted(
            Counter(p.consent_status for p in members(NEWSLETTER)).items(),
            key=lambda kv: (-kv[1], kv[0]),
        )
    )
    assert by_consent["count"] == len(SEED.lists[NEWSLETTER].members)
    domains = Counter(
        p.email.strip().casefold().rpartition("@")[2] for p in members(NEWSLETTER) if p.score >= 100
    )
    assert by_domain["groups"] == dict(sorted(domains.items(), key=lambda kv: (-kv[1], kv[0])))


@pytest.mark.parametrize("name", ["hubspot", "salesforce"])
async def test_a_filter_alone_searches_the_whole_database(name, connect):
    v = VENDORS[name]
    expected = {v.person_ref(p.idx) for p in SEED.people if p.score >= 118}
    async with connect("assistant") as client:
        got = await pages(client, {"connector": name, "score_min": 118}, limit=100)
    assert expected and {item["ref"] for page in got for item in page} == expected


async def test_marketo_says_what_to_do_instead_of_a_filter_alone(connect):
    async with connect("assistant") as client:
        text = await refused(client, "search_people", {"connector": "marketo", "score_min": 90})
    assert text.startswith("[not_supported]") and "list" in text, text


async def test_a_withheld_field_cannot_be_filtered_or_grouped_on(connect, manifest_path):
    with manifest_path.open("a") as fh:
        fh.write(
            '\n[[rules]]\nid = "analyst-no-title"\neffect = "deny"\nprincipals = ["analyst"]\n'
            'tools = ["*"]\nconnectors = ["*"]\nfields = ["title", "jobtitle", "Title"]\n'
            'reason = "titles are not needed for reporting"\n'
        )
    v = VENDORS["hubspot"]
    scope = {"connector": "hubspot", "list_ref": v.list_ref(NEWSLETTER)}
    async with connect("analyst") as client:
        text = await refused(client, "search_people", {**scope, "title_contains": "CMO"})
        fine = await ok(client, "search_people", {**scope, "score_min": 50, "limit": 3})
    assert text.startswith("[not_permitted]") and "'jobtitle'" in text, text
    assert len(fine["items"]) == 3


async def test_bad_ranges_and_counts_with_cursors_are_input_errors(connect):
    v = VENDORS["salesforce"]
    scope = {"connector": "salesforce", "list_ref": v.list_ref(NEWSLETTER)}
    async with connect("assistant") as client:
        swapped = await refused(client, "search_people", {**scope, "score_min": 9, "score_max": 1})
        domain = await refused(client, "search_people", {**scope, "email_domain": "not a domain"})
    assert swapped.startswith("[invalid_input] score_min (9) is above score_max (1)")
    assert domain.startswith("[invalid_input]") and "email_domain" in domain

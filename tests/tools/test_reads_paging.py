"""Paging: every record exactly once, pages bounded by count and by bytes."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

import mopsgate.tools.paging
from tests.support.unpaced import unpaced_runtime  # noqa: F401 - the runtime fixture here
from tests.tools.seed_facts import NAMES, SEED, VENDORS
from tests.tools.test_reads_per_vendor import ok, refused


async def walk_refs(
    client: Any, tool: str, args: dict[str, Any], pages_seen: list[dict[str, Any]] | None = None
) -> list[str]:
    refs: list[str] = []
    cursor = None
    for _ in range(200):
        page = await ok(client, tool, {**args, "cursor": cursor})
        assert len(page["items"]) <= args.get("limit", 100)
        refs += [i["ref"] for i in page["items"]]
        if pages_seen is not None:
            pages_seen.append(page)
        cursor = page["next_cursor"]
        if cursor is None:
            return refs
    raise AssertionError("paging did not end")


def assert_exactly_once(refs: list[str], expected: set[str]) -> None:
    dupes = [r for r, n in Counter(refs).items() if n > 1]
    assert dupes == []
    assert set(refs) == expected


@pytest.mark.parametrize("name", NAMES)
async def test_search_people_pages_visit_everyone_once(name, connect):
    v = VENDORS[name]
    expected = {v.person_ref(p.idx) for p in SEED.people if p.company == "Vandelay Imports"}
    async with connect("assistant") as client:
        refs = await walk_refs(
            client, "search_people", {"connector": name, "company": "Vandelay Imports", "limit": 30}
        )
    assert_exactly_once(refs, expected)
    if name == "salesforce":  # Leads, then Contacts, in one walk
        assert {r.split(":")[1] for r in refs} == {"Lead", "Contact"}


@pytest.mark.parametrize("name", NAMES)
async def test_list_members_pages_visit_every_member_once(name, connect):
    v = VENDORS[name]
    async with connect("assistant") as client:
        refs = await walk_refs(client, "list_members", {"list_ref": v.list_ref(3), "limit": 37})
    assert_exactly_once(refs, {v.person_ref(i) for i in SEED.lists[3].members})


@pytest.mark.parametrize("name", NAMES)
async def test_byte_cap_cuts_pages_and_the_cursor_resumes(name, connect, monkeypatch):
    """With a small byte budget a page stops early inside a vendor page; the cursor resumes
    exactly there, so nothing is skipped or repeated."""
    monkeypatch.setattr(mopsgate.tools.paging, "MAX_PAGE_BYTES", 14_000)
    v = VENDORS[name]
    pages: list[dict[str, Any]] = []
    async with connect("assistant") as client:
        refs = await walk_refs(
            client, "list_members", {"list_ref": v.list_ref(5), "limit": 100}, pages
        )
    assert_exactly_once(refs, {v.person_ref(i) for i in SEED.lists[5].members})
    assert any(p["truncated_by_size"] for p in pages)
    assert all(len(p["items"]) < 100 for p in pages)


async def test_hard_page_cap(connect):
    v = VENDORS["salesforce"]
    async with connect("assistant") as client:
        full = await ok(client, "list_members", {"list_ref": v.list_ref(0), "limit": 100})
        too_big = await refused(client, "list_members", {"list_ref": v.list_ref(0), "limit": 500})
    assert len(full["items"]) == 100 and full["next_cursor"]
    assert "[invalid_input]" in too_big and "100" in too_big


@pytest.mark.parametrize("vendor", ["hubspot", "salesforce"])
async def test_a_search_with_no_filter_is_paged_never_a_dump(vendor, connect, settings):
    """I-09, decided: a search with no filter is allowed (it is how an assistant browses), but
    it is a page, never the table: at most 100 people a call (a bigger limit is refused), the
    manifest's masking applies, every page is a separate audited call under the rate limits;
    and LIKE wildcards in a text filter match only themselves."""
    from tests.conftest import audit_rows

    async with connect("assistant") as client:
        page = await ok(client, "search_people", {"connector": vendor, "limit": 100})
        too_big = await refused(client, "search_people", {"connector": vendor, "limit": 5000})
        wild = await ok(client, "search_people", {"connector": vendor, "name": "%"})
        under = await ok(client, "search_people", {"connector": vendor, "name": "_"})
    assert len(page["items"]) == 100 and page["next_cursor"]
    assert "[invalid_input]" in too_big and "100" in too_big
    assert wild["items"] == [] and under["items"] == []
    rows = [r for r in audit_rows(settings) if r["tool"] == "search_people"]
    assert len(rows) == 4 and rows[0]["records"] and rows[0]["records"].count(":") >= 100


async def test_marketo_refuses_a_search_with_no_filter(connect):
    """Marketo has no paged search over all leads: an empty query is refused, not emulated."""
    async with connect("assistant") as client:
        text = await refused(client, "search_people", {"connector": "marketo"})
    assert "[not_supported]" in text and "empty" in text, text

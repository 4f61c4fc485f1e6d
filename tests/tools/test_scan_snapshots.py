"""Whole-database reads page through what their first page read (``tools/snapshots.py``): the
later pages cost the vendors nothing, a new query reads them afresh, and rights that changed
between pages mean a fresh read."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mopsgate.sandbox.hubspot.ids import lifecycle_to_hubspot
from mopsgate.sandbox.seed import DRIFT_STAGE
from mopsgate.server.app import Runtime
from mopsgate.tools.snapshots import MAX_SNAPSHOTS, SNAPSHOT_SECONDS, Snapshots
from tests.support.clock import FakeClock
from tests.support.unpaced import unpaced_runtime  # noqa: F401 - the runtime fixture here
from tests.tools.seed_facts import SEED, VENDORS
from tests.tools.test_reads_per_vendor import ok

PAIR = ["hubspot", "salesforce"]
DRIFTING = {d.idx for d in SEED.drift}


def vendor_requests(runtime: Runtime) -> dict[str, int]:
    return {n: len(runtime.connectors.emulator(n).core.requests) for n in PAIR}


async def drift(client: Any, cursor: str | None = None, **args: Any) -> dict[str, Any]:
    return await ok(
        client,
        "find_cross_system_drift",
        {"connectors": PAIR, "limit": 5, **args, "cursor": cursor},
    )


async def test_later_pages_read_no_vendor_and_a_new_query_sees_a_change(connect, runtime):
    """Paging spends the vendors' API budget once; a record changed meanwhile shows on the next
    query (the pages already started show the first page's reading, as documented)."""
    calm = next(p for p in SEED.people if p.idx not in DRIFTING and p.lifecycle_stage == "lead")
    hubspot = VENDORS["hubspot"]
    async with connect("assistant") as client:
        first = await drift(client)
        read = vendor_requests(runtime)
        assert first["next_cursor"] and all(n > 0 for n in read.values())
        runtime.connectors.emulator("hubspot").set_person_field(
            hubspot.native(calm.idx), "lifecyclestage", lifecycle_to_hubspot(DRIFT_STAGE["lead"])
        )
        second = await drift(client, first["next_cursor"])
        assert vendor_requests(runtime) == read  # no vendor request for a later page
        again = await drift(client, limit=100)
    assert second["total"] == first["total"] and second["items"] != first["items"]
    assert again["total"] == first["total"] + 1
    changed = [i for i in again["items"] if hubspot.person_ref(calm.idx) in str(i)]
    assert [i["kinds"] for i in changed] == [["lifecycle_stage"]]


@pytest.fixture
def no_hubspot_email(manifest_path: Path) -> Callable[[], None]:
    def edit() -> None:
        with manifest_path.open("a", encoding="utf-8") as fh:
            fh.write(
                '\n[[rules]]\nid = "assistant-no-hs-email"\neffect = "deny"\n'
                'principals = ["assistant"]\ntools = ["find_duplicates"]\n'
                'connectors = ["hubspot"]\nfields = ["email"]\n'
                'reason = "Addresses are the list owners\' business."\n'
            )

    return edit


async def test_duplicates_page_once_until_the_rights_change(connect, runtime, no_hubspot_email):
    """Later pages read the vendor not at all; after the manifest changes, the next page was
    computed under the old rights, so it reads afresh and groups on nothing now withheld."""
    hubspot = runtime.connectors.emulator("hubspot").core
    args = {"connector": "hubspot", "match": "email", "limit": 2}
    async with connect("assistant") as client:
        first = await ok(client, "find_duplicates", args)
        read = len(hubspot.requests)
        second = await ok(client, "find_duplicates", {**args, "cursor": first["next_cursor"]})
        assert len(hubspot.requests) == read  # no vendor request for a later page
        no_hubspot_email()
        third = await ok(client, "find_duplicates", {**args, "cursor": second["next_cursor"]})
    assert second["total_groups"] == first["total_groups"] > 4
    assert {g["key"] for g in second["groups"]}.isdisjoint(g["key"] for g in first["groups"])
    assert len(hubspot.requests) > read
    assert third["total_groups"] == 0 and third["groups"] == []


async def test_a_kept_result_lasts_its_stated_time_for_its_own_query_and_rights():
    clock = FakeClock()
    kept = Snapshots(clock)
    computed: list[str] = []
    rights = object()

    async def page(label: str, *, first: bool, who: str = "a", query: str = "q", **kw: Any) -> str:
        async def compute() -> str:
            computed.append(label)
            return label

        return await kept.result(
            str,
            principal=who,
            use_case=kw.get("use_case"),
            query={"q": query},
            rights=kw.get("rights", rights),
            first_page=first,
            compute=compute,
        )

    assert await page("one", first=True) == "one"
    clock.advance(SNAPSHOT_SECONDS)
    assert await page("later", first=False) == "one"  # within the stated time: kept
    assert await page("other principal", first=False, who="b") == "other principal"
    assert await page("other use case", first=False, use_case="x") == "other use case"
    assert await page("other query", first=False, query="r") == "other query"
    assert await page("other rights", first=False, rights=object()) == "other rights"
    assert await page("fresh", first=True) == "fresh"  # a first page never reuses
    clock.advance(SNAPSHOT_SECONDS + 1)
    assert await page("expired", first=False) == "expired"
    for n in range(MAX_SNAPSHOTS):
        await page(str(n), first=True, query=f"many{n}")
    assert await page("dropped", first=False) == "dropped"  # the oldest made room
    assert computed == [
        "one",
        "other principal",
        "other use case",
        "other query",
        "other rights",
        "fresh",
        "expired",
        *map(str, range(MAX_SNAPSHOTS)),
        "dropped",
    ]

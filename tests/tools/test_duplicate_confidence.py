"""find_duplicates' confidence and suggested survivor, against the seed's own account of who
is a duplicate of whom (issue #17, item 5): name + company alone is mostly chance."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.support.unpaced import unpaced_runtime  # noqa: F401 - the runtime fixture here
from tests.tools.seed_facts import SEED, VENDORS
from tests.tools.test_reads_per_vendor import ok

V = VENDORS["hubspot"]
BY_REF = {V.person_ref(p.idx): p for p in SEED.people}


def is_real(group: dict[str, Any]) -> bool:
    idxs = {BY_REF[r].idx for r in group["people"]}
    return any(BY_REF[r].duplicate_of in idxs for r in group["people"])


async def all_groups(client: Any, **args: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await ok(
            client, "find_duplicates", {"connector": "hubspot", **args, "cursor": cursor}
        )
        out += page["groups"]
        if (cursor := page["next_cursor"]) is None:
            return out


async def test_confidence_separates_chance_from_duplicates(connect):
    async with connect("assistant") as client:
        names = await all_groups(client, match="name+company", limit=100)
        emails = await all_groups(client, match="email", limit=100)
    assert {g["match"] for g in names} == {"name+company"}
    assert emails and all(g["confidence"] == "high" and is_real(g) for g in emails)
    by_level = Counter(g["confidence"] for g in names)
    real = Counter(g["confidence"] for g in names if is_real(g))
    assert by_level["low"] > 300  # most name + company groups are different people...
    assert real["low"] < by_level["low"] / 10  # ...and low says so
    assert real["medium"] == by_level["medium"] > 20  # every medium group is a real duplicate


async def test_the_suggested_survivor_keeps_an_opt_out(connect):
    async with connect("assistant") as client:
        groups = await all_groups(client, limit=100)
    mixed = [
        g
        for g in groups
        if len({BY_REF[r].consent_status == "subscribed" for r in g["people"]}) == 2
    ]
    assert mixed
    for g in mixed:
        assert BY_REF[g["suggested_survivor"]].consent_status != "subscribed", g
    assert all(g["suggested_survivor"] in g["people"] for g in groups)

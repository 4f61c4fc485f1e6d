"""The use case on every audit row and change, the use_case argument, and the data-access
record (the records each call returned or targeted), as the audit log shows them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from mcp import Client

from mopsgate.governance.data_access import record_refs
from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import REVIEWERS, ROOT, audit_rows, text_of
from tests.server.e2e_support import VENDORS, approve
from tests.server.test_changes_kit import apply, ok, propose_titles
from tests.support.reviewers import declare_keys

MK = VENDORS["marketo"]
HYGIENE = """
[use_cases.hygiene]
purpose = "Find and report duplicate people; read only."
risk_level = "low"
review_date = 2099-01-01
[use_cases.hygiene.owners]
risk = "Data Protection Officer"

[[rules]]
id = "assistant-hygiene"
effect = "allow"
principals = ["assistant"]
use_case = "hygiene"
tools = ["get_person", "find_duplicates"]
connectors = ["marketo"]
"""


@pytest.fixture
def manifest_path(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    target = tmp_path / "permissions.toml"
    shutil.copy(ROOT / "permissions.toml", target)
    if getattr(request, "param", "") == "two-use-cases":
        text = target.read_text().replace(
            'use_cases = ["campaign-ops"]', 'use_cases = ["campaign-ops", "hygiene"]', 1
        )
        target.write_text(text + HYGIENE)
    declare_keys(target, REVIEWERS)
    return target


def rows_of(settings: Settings, tool: str) -> list[dict[str, object]]:
    return [r for r in audit_rows(settings) if r["tool"] == tool]


async def test_every_row_of_a_change_carries_its_use_case(
    connect: Callable[..., Client], settings: Settings, runtime: Runtime
) -> None:
    async with connect("assistant") as client:
        person = await ok(client, "get_person", ref=MK.ref(5))
        plan = await propose_titles(client, MK, [5, 6])
        approve(settings, plan["change_id"])
        assert not (await apply(client, plan)).is_error
        await ok(client, "get_change", change_id=plan["change_id"])
        assert runtime.storage is not None
        change = await runtime.storage.changes.require(plan["change_id"])
    assert change.use_case == "campaign-ops"
    rows = audit_rows(settings)
    assert [(r["kind"], r["tool"], r["use_case"]) for r in rows] == [
        ("tool_call", "get_person", "campaign-ops"),
        ("tool_call", "propose_update_person", "campaign-ops"),
        ("review", "review approve", "campaign-ops"),
        ("change", "apply_change", "campaign-ops"),
        ("tool_call", "apply_change", "campaign-ops"),
        ("tool_call", "get_change", "campaign-ops"),
    ]
    # The data-access record: what each call returned or targeted.
    assert json.loads(str(rows[0]["records"])) == [person["ref"]] == [MK.ref(5)]
    assert json.loads(str(rows[1]["records"])) == [MK.ref(5), MK.ref(6)]
    assert rows[2]["records"] is None  # a review shows no records to an assistant


async def test_a_search_records_every_person_it_returned(
    connect: Callable[..., Client], settings: Settings
) -> None:
    async with connect("assistant") as client:
        page = await ok(client, "search_people", connector="hubspot", limit=7)
    returned = [p["ref"] for p in page["items"]]
    assert len(returned) == 7
    (row,) = rows_of(settings, "search_people")
    assert json.loads(str(row["records"])) == returned


@pytest.mark.parametrize("manifest_path", ["two-use-cases"], indirect=True)
async def test_an_ambiguous_use_case_is_refused_with_the_candidates(
    connect: Callable[..., Client], settings: Settings, runtime: Runtime
) -> None:
    async with connect("assistant") as client:
        refused = await client.call_tool("get_person", {"ref": MK.ref(5)})
        assert refused.is_error
        text = text_of(refused)
        assert "several use cases (campaign-ops, hygiene)" in text
        assert "Call again with use_case set to one of: campaign-ops, hygiene." in text
        await ok(client, "get_person", ref=MK.ref(5), use_case="hygiene")
        await ok(client, "get_person", ref=MK.ref(5), use_case="campaign-ops")
        # Only campaign-ops covers hubspot: nothing to choose.
        await ok(client, "get_person", ref=VENDORS["hubspot"].ref(5))
        wrong = await client.call_tool(
            "propose_update_person",
            {"refs": [MK.ref(5)], "fields": {"title": "CTO"}, "reason": "As asked in the sync",
             "use_case": "hygiene"},
        )  # fmt: skip
        assert wrong.is_error and "use case 'hygiene' does not allow" in text_of(wrong)
        plan = await ok(
            client,
            "propose_update_person",
            refs=[MK.ref(5)],
            fields={"title": "CTO"},
            reason="As asked in the sync",
        )
        assert runtime.storage is not None
        change = await runtime.storage.changes.require(plan["change_id"])
    assert change.use_case == "campaign-ops"
    reads = rows_of(settings, "get_person")
    assert [(r["decision"], r["rule_id"], r["use_case"]) for r in reads] == [
        ("denied", "ambiguous-use-case", None),
        ("allowed", "assistant-hygiene", "hygiene"),
        ("allowed", "assistant-read", "campaign-ops"),
        ("allowed", "assistant-read", "campaign-ops"),
    ]
    assert json.loads(str(reads[0]["arguments"])) == {"ref": MK.ref(5)}
    (denied, allowed) = rows_of(settings, "propose_update_person")
    assert (denied["decision"], denied["use_case"]) == ("denied", "hygiene")
    assert allowed["use_case"] == "campaign-ops"


def test_record_refs_are_found_at_any_depth_once_each_and_bounded() -> None:
    data = {
        "ref": "marketo:lead:1",
        "people": [{"ref": "marketo:lead:2", "name": "marketo:lead:99"}, {"ref": "marketo:lead:1"}],
        "groups": [{"person_refs": ["hubspot:contact:7", "not a ref"]}],
        "list_ref": "marketo:list:3",
        "note": "hubspot:contact:8",
    }
    assert record_refs(data) == (
        ("marketo:lead:1", "marketo:lead:2", "hubspot:contact:7", "marketo:list:3"),
        0,
    )
    many = {"refs": [f"marketo:lead:{i}" for i in range(12)]}
    assert record_refs(many, limit=5) == (tuple(f"marketo:lead:{i}" for i in range(5)), 7)

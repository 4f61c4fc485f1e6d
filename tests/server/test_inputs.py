"""Arguments an assistant gets wrong or an attacker shapes (catalogue I-06 type confusion,
I-04 oversized input): refused with the field named, before any vendor is asked anything,
nothing stored, and the refusal audited as ``invalid_input``."""

from __future__ import annotations

from typing import Any

import pytest

from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.server.test_changes_kit import MK, REASON, WELCOME_TRIGGER, last_refusal, refused

LEAD = MK.ref(3)
CONFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("search_people", {"connector": "marketo", "limit": "5"}, "limit"),
    ("search_people", {"connector": "marketo", "limit": 5.0}, "limit"),
    ("search_people", {"connector": "marketo", "limit": True}, "limit"),
    ("search_people", {"connector": "marketo", "limit": None}, "limit"),
    ("get_person", {"ref": {"id": LEAD}}, "ref"),
    ("get_person", {"ref": [LEAD]}, "ref"),
    ("get_person", {"ref": None}, "ref"),
    ("get_person", {"ref": 3}, "ref"),
    ("get_change", {"change_id": 123}, "change_id"),
    ("get_activities", {"person_ref": LEAD, "since": 1700000000}, "since"),
    ("get_activities", {"person_ref": LEAD, "since": True}, "since"),
    ("propose_update_person", {"refs": LEAD, "fields": {"title": "x"}}, "refs"),
    ("propose_update_person", {"refs": [LEAD], "fields": {"title": {"a": 1}}}, "fields"),
    ("propose_update_person", {"refs": [LEAD], "fields": [["title", "x"]]}, "fields"),
    ("propose_update_person", {"refs": [LEAD], "fields": {"title": "x"}, "reason": 7}, "reason"),
    ("propose_opt_out", {"person_refs": [LEAD], "reason": False}, "reason"),
]


@pytest.mark.parametrize(("tool", "args", "field"), CONFUSED)
async def test_type_confusion_is_refused_naming_the_field(
    tool: str, args: dict[str, Any], field: str, connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("marketo")
    if tool.startswith("propose") and "reason" not in args:
        args = {**args, "reason": REASON}
    async with connect("assistant") as client:
        text = await refused(client, tool, **args)
    assert text.startswith("[invalid_input]") and f"{field}" in text, text
    assert emu.core.requests == []
    row = last_refusal(settings, tool)
    assert (row["outcome"], row["error_code"]) == ("error", "invalid_input")


async def test_the_same_arguments_well_typed_are_accepted(connect, runtime: Runtime):
    """The refusals above are about types, not the calls: typed right, each is served."""
    async with connect("assistant") as client:
        for tool, args in [
            ("search_people", {"connector": "hubspot", "limit": 5}),
            ("get_activities", {"person_ref": LEAD, "since": "2026-01-01T00:00:00Z"}),
        ]:
            result = await client.call_tool(tool, args)
            assert not result.is_error, result.content


MANY = [MK.ref(i) for i in range(20_000)]
OVERSIZED: list[tuple[str, dict[str, Any], str]] = [
    ("propose_update_person", {"refs": [LEAD], "fields": {"title": "x" * 3_000_000}}, "fields"),
    ("propose_update_person", {"refs": MANY, "fields": {"title": "x"}}, "refs"),
    (
        "propose_trigger_campaign",
        {"campaign_ref": WELCOME_TRIGGER, "person_refs": [LEAD], "tokens": {"t": "x" * 10**6}},
        "tokens",
    ),
    (
        "propose_update_person",
        {"refs": [LEAD], "fields": {"title": "x"}, "reason": "r" * 100_000},
        "reason",
    ),
]


@pytest.mark.parametrize(("tool", "args", "field"), OVERSIZED)
async def test_oversized_arguments_are_refused_before_any_upstream_call(
    tool: str, args: dict[str, Any], field: str, connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("marketo")
    args = {"reason": REASON, **args}
    async with connect("assistant") as client:
        text = await refused(client, tool, **args)
        assert text.startswith("[invalid_input]") and field in text, text[:300]
        assert len(text) < 5000  # the refusal does not echo the payload back
        assert (await client.call_tool("list_my_changes", {})).structured_content["changes"] == []
    assert emu.core.requests == []
    assert last_refusal(settings, tool)["error_code"] == "invalid_input"


SMUGGLED: list[tuple[str, dict[str, Any], str]] = [
    (
        "propose_update_person",
        {"refs": [LEAD], "fields": {"title": "x"}, "dry_run": False},
        "dry_run",
    ),
    (
        "propose_update_person",
        {"refs": [LEAD], "fields": {"title": "x"}, "skip_approval": True},
        "skip_approval",
    ),
    (
        "apply_change",
        {
            "change_id": "chg_0123456789ab",
            "confirmation_token": "x" * 20,
            "approved_by": "mops-lead",
        },
        "approved_by",
    ),
]


@pytest.mark.parametrize(("tool", "args", "field"), SMUGGLED)
async def test_unexpected_fields_are_refused(
    tool: str, args: dict[str, Any], field: str, connect, runtime: Runtime, settings: Settings
):
    """I-05: an argument the schema does not name is an error, never ignored."""
    args = {"reason": REASON, **args} if tool.startswith("propose") else args
    async with connect("assistant") as client:
        text = await refused(client, tool, **args)
        assert (await client.call_tool("list_my_changes", {})).structured_content["changes"] == []
    assert f"{field}: unknown field" in text, text
    assert runtime.connectors.emulator("marketo").core.requests == []
    assert last_refusal(settings, tool)["error_code"] == "invalid_input"


@pytest.mark.parametrize(
    "ref",
    [
        "marketo:lead:3@evil.com",
        "https://evil.example/rest/v1/leads.json",
        "marketo:lead:169.254.169.254",
        "marketo:lead:../../identity/oauth/token",
        "//169.254.169.254/latest/meta-data",
    ],
)
async def test_a_host_smuggled_into_a_reference_is_refused(
    ref: str, connect, runtime: Runtime, settings: Settings
):
    """I-12: an id can never carry a host, a URL or a path; the vendor sees no request."""
    async with connect("assistant") as client:
        text = await refused(client, "get_person", ref=ref)
    assert text.startswith("[invalid_input]"), text
    assert runtime.connectors.emulator("marketo").core.requests == []
    assert last_refusal(settings, "get_person")["error_code"] == "invalid_input"

"""Arguments an assistant gets wrong or an attacker shapes (catalogue I-06 type confusion,
I-04 oversized input): refused with the field named, before any vendor is asked anything,
nothing stored, and the refusal audited as ``invalid_input``.

Each test runs its cases one after another on one server (a refused call stores nothing and
asks no vendor: each case checks that), every check made per case and naming it, and each
case's audit row looked for among the rows written since the case began.
"""

from __future__ import annotations

from typing import Any

from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
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


async def test_type_confusion_is_refused_naming_the_field(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("marketo")
    async with connect("assistant") as client:
        for tool, args, field in CONFUSED:
            case = f"{tool} {args}"
            if tool.startswith("propose") and "reason" not in args:
                args = {**args, "reason": REASON}
            seen = len(audit_rows(settings))
            text = await refused(client, tool, **args)
            assert text.startswith("[invalid_input]") and f"{field}" in text, (case, text)
            assert emu.core.requests == [], case
            row = last_refusal(settings, tool, since=seen)
            assert (row["outcome"], row["error_code"]) == ("error", "invalid_input"), case


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


async def test_oversized_arguments_are_refused_before_any_upstream_call(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("marketo")
    async with connect("assistant") as client:
        for tool, args, field in OVERSIZED:
            case = f"{tool} {field}"
            seen = len(audit_rows(settings))
            text = await refused(client, tool, **{"reason": REASON, **args})
            assert text.startswith("[invalid_input]") and field in text, (case, text[:300])
            assert len(text) < 5000, case  # the refusal does not echo the payload back
            mine = await client.call_tool("list_my_changes", {})
            assert mine.structured_content["changes"] == [], case
            assert emu.core.requests == [], case
            assert last_refusal(settings, tool, since=seen)["error_code"] == "invalid_input", case


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


async def test_unexpected_fields_are_refused(connect, runtime: Runtime, settings: Settings):
    """I-05: an argument the schema does not name is an error, never ignored."""
    async with connect("assistant") as client:
        for tool, args, field in SMUGGLED:
            args = {"reason": REASON, **args} if tool.startswith("propose") else args
            seen = len(audit_rows(settings))
            text = await refused(client, tool, **args)
            mine = await client.call_tool("list_my_changes", {})
            assert mine.structured_content["changes"] == [], field
            assert f"{field}: unknown field" in text, (field, text)
            assert runtime.connectors.emulator("marketo").core.requests == [], field
            assert last_refusal(settings, tool, since=seen)["error_code"] == "invalid_input", field


SMUGGLED_HOSTS = [
    "marketo:lead:3@evil.com",
    "https://evil.example/rest/v1/leads.json",
    "marketo:lead:169.254.169.254",
    "marketo:lead:../../identity/oauth/token",
    "//169.254.169.254/latest/meta-data",
]


async def test_a_host_smuggled_into_a_reference_is_refused(
    connect, runtime: Runtime, settings: Settings
):
    """I-12: an id can never carry a host, a URL or a path; the vendor sees no request."""
    async with connect("assistant") as client:
        for ref in SMUGGLED_HOSTS:
            seen = len(audit_rows(settings))
            text = await refused(client, "get_person", ref=ref)
            assert text.startswith("[invalid_input]"), (ref, text)
            assert runtime.connectors.emulator("marketo").core.requests == [], ref
            row = last_refusal(settings, "get_person", since=seen)
            assert row["error_code"] == "invalid_input", ref

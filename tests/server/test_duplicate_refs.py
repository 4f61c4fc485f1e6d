"""A record named twice in one proposal (issue #16, item 3).

The attack run sent ``propose_update_person`` the same person twice and got a plan of one
record: the duplicate was silently merged. Every proposal tool now refuses it as invalid input
naming the duplicates; nothing is stored, nothing is written upstream, the call is audited.
"""

from __future__ import annotations

from typing import Any

from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.server.test_changes_kit import (
    MK,
    REASON,
    WELCOME_TRIGGER,
    last_refusal,
    ok,
    people,
    refused,
)

A, B = (MK.ref(i) for i in people("subscribed", 2, start=40, not_in=3))


def _calls() -> list[tuple[str, dict[str, Any], str]]:
    """(tool, arguments with A twice and B once, the name of the list argument)."""
    twice = [A, B, A]
    twice_p = {"person_refs": twice}
    return [
        ("propose_update_person", {"refs": twice, "fields": {"title": "Twice"}}, "refs"),
        ("propose_add_to_list", {"list_ref": MK.list_ref, **twice_p}, "person_refs"),
        ("propose_remove_from_list", {"list_ref": MK.list_ref, **twice_p}, "person_refs"),
        ("propose_trigger_campaign", {"campaign_ref": WELCOME_TRIGGER, **twice_p}, "person_refs"),
        ("propose_opt_out", {"connector": "marketo", **twice_p}, "person_refs"),
    ]  # fmt: skip


async def test_a_record_named_twice_is_refused_naming_it(
    connect, runtime: Runtime, settings: Settings
):
    """The tools one after another on one server: a refusal stores and sends nothing."""
    emu = runtime.connectors.emulator("marketo")
    async with connect("assistant") as client:
        for tool, args, key in _calls():
            seen = len(audit_rows(settings))
            text = await refused(client, tool, **args, reason=REASON)
            assert "[invalid_input]" in text, (tool, text)
            said = f"{key}: the same record is listed more than once: {A} (2 times)"
            assert said in text, (tool, text)
            assert B not in text and "nothing was changed" in text, (tool, text)
            assert (await ok(client, "list_my_changes"))["changes"] == [], tool
            assert emu.core.write_requests == [], tool
            row = last_refusal(settings, tool, since=seen)
            assert row["error_code"] == "invalid_input" and row["change_id"] is None, tool


async def test_the_input_schemas_say_each_record_once(connect):
    """Clients can see the rule before calling: the reference lists are uniqueItems."""
    async with connect("assistant") as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    for tool, _, key in _calls():
        assert tools[tool].input_schema["properties"][key]["uniqueItems"] is True, tool

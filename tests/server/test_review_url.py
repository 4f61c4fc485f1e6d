"""A proposal tells the assistant where its change is reviewed (the review console's page),
never how to approve it: approving is a human's act, and an assistant that is handed the
command is one shell away from trying it (issue #14, item 5)."""

from __future__ import annotations

import json

from mcp import Client
from typer.testing import CliRunner

from mopsgate.server.app import build_runtime, build_server
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.server.test_changes_kit import MK, ok, people, propose_titles, refused

# What approving looks like from a shell: none of it may reach the assistant.
HOW_TO_APPROVE = ("mopsgate review", "review approve", "review submit", "--reviewer", "keygen")


async def test_a_proposal_names_its_review_page_and_not_how_to_approve(
    settings: Settings,
) -> None:
    runtime = build_runtime(settings, env={"MOPSGATE_CONSOLE_URL": "https://review.example.test/"})
    server = build_server(runtime, transport="memory", resolve_principal=lambda _c: "assistant")
    async with Client(server) as client:
        plan = await propose_titles(client, MK, people("subscribed", 1))
        page = f"https://review.example.test/changes/{plan['change_id']}"
        assert plan["review_url"] == page
        assert page in plan["next_steps"] and "you cannot approve it" in plan["next_steps"]
        waiting = await refused(
            client, "apply_change", change_id=plan["change_id"],
            confirmation_token=plan["confirmation_token"],
        )  # fmt: skip
        assert "still waiting for approval" in waiting
        seen = await ok(client, "get_change", change_id=plan["change_id"])
        assert page in seen["next_steps"]
        described = [t.description or "" for t in (await client.list_tools()).tools]
    told = " ".join([json.dumps(plan), json.dumps(seen), waiting, *described])
    for how in HOW_TO_APPROVE:
        assert how not in told, f"the assistant is told {how!r}"


async def test_invite_links_and_review_pages_name_the_same_console(settings: Settings) -> None:
    """One setting, read one way: the link an invitee enrols at and the page an assistant is
    sent to are on the same origin (the console's passkeys are bound to it)."""
    configured = {"MOPSGATE_CONSOLE_URL": " https://review.example.test/ "}
    runtime = build_runtime(settings, env=configured)
    server = build_server(runtime, transport="memory", resolve_principal=lambda _c: "assistant")
    async with Client(server) as client:
        plan = await propose_titles(client, MK, people("subscribed", 1))
    where = ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    invite = ["reviewer", "invite", "--reviewer", "mops-lead", *where]
    invited = CliRunner().invoke(app, invite, env=configured)
    assert invited.exit_code == 0, invited.output
    assert plan["review_url"] == f"https://review.example.test/changes/{plan['change_id']}"
    assert "https://review.example.test/enrol/" in invited.output

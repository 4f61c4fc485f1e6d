"""`mopsgate report risk-review` on a state directory a server really wrote."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mcp import Client
from typer.testing import CliRunner

from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.server.e2e_support import VENDORS, approve
from tests.server.test_changes_kit import apply, ok, propose_titles, refused

MK = VENDORS["marketo"]


def report(settings: Settings, *args: str) -> Any:
    return CliRunner().invoke(
        app,
        [
            "report",
            "risk-review",
            *args,
            "--manifest",
            str(settings.manifest_path),
            "--home",
            str(settings.home),
        ],
    )


async def test_report_formats_from_a_real_session(
    connect: Callable[..., Client], settings: Settings
) -> None:
    async with connect("assistant") as client:
        await ok(client, "get_person", ref=MK.ref(5))
        await refused(
            client,
            "propose_delete_person",
            connector="marketo",
            person_refs=[MK.ref(5)],
            reason="cleanup of a duplicate",
        )
        plan = await propose_titles(client, MK, [5])
        approve(settings, plan["change_id"])
        assert not (await apply(client, plan)).is_error
    result = report(settings, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["audit"]["chain"] == "intact"
    act = data["activity"]
    assert (
        act["denied"] == 1 and {"key": "assistant-no-delete", "count": 1} in act["denials_by_rule"]
    )
    assert (act["proposals"], act["approved"], act["applied"]) == (1, 1, 1)
    assert act["reviewer_load"] == [{"reviewer": "mops-lead", "approvals": 1, "rejections": 0}]
    ops = next(u for u in data["use_cases"] if u["name"] == "campaign-ops")
    assert ops["activity"]["calls"] >= 3 and ops["principals"] == ["assistant"]
    assert ops["owners"]["escalation"] == "mops-oncall@example.com"
    unused = {p["subject"] for p in data["problems"] if p["kind"] == "unused_grant"}
    assert "analyst-read" in unused and "assistant-read" not in unused

    html = report(settings, "--format", "html")
    assert html.exit_code == 0, html.output
    page = html.stdout
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")
    md = report(settings, "--format", "md")
    assert md.exit_code == 0 and md.stdout.startswith("# AI risk review")
    assert "| campaign-ops | medium |" in md.stdout


def test_report_refuses_bad_options(settings: Settings) -> None:
    assert report(settings, "--format", "pdf").exit_code == 2
    bad = report(settings, "--since", "last quarter")
    assert bad.exit_code == 2 and "neither a span like 90d" in bad.output
    empty = report(settings, "--since", "2027-01-02", "--until", "2027-01-01")
    assert empty.exit_code == 2 and "the period is empty" in empty.output

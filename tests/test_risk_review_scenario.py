"""Acceptance for the risk-review report (#10): a scripted sandbox session — reads, proposals,
approvals, a rejection, a stale apply, a floor refusal, a revert, a freeze, an exception, a
manifest edit and a refused one, an overdue use case — and the report it produces. Each item is
asserted from the report's JSON; the whole report, with what differs between runs (times, ids,
digests, keys) replaced by placeholders, is held to a golden file.

Regenerate the golden file after an intended change with ``UPDATE_GOLDEN=1`` and read its diff.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from typer.testing import CliRunner

from mopsgate.server.app import Runtime
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.server.e2e_support import VENDORS, approve, review
from tests.server.test_changes_kit import (
    OPT_OUT_FIELD,
    apply,
    cli,
    ok,
    people,
    propose_titles,
    refused,
)

MK = VENDORS["marketo"]
GOLDEN = Path(__file__).parent / "golden" / "risk_review_scenario.json"
OVERDUE_BY = dt.timedelta(days=30)


@pytest.fixture
def manifest_path(manifest_path: Path) -> Path:
    """The shipped manifest with the reporting use case's review a month overdue (warn only,
    so the analyst keeps working and the report shows it)."""
    text = manifest_path.read_text()
    past = (dt.datetime.now(dt.UTC) - OVERDUE_BY).date().isoformat()
    start = text.index("[use_cases.reporting]")
    head, tail = text[:start], text[start:]
    tail = re.sub(r"review_date = \d{4}-\d\d-\d\d", f"review_date = {past}", tail, count=1)
    manifest_path.write_text(head + tail)
    return manifest_path


def run(settings: Settings, *args: str) -> Any:
    return CliRunner(env={"COLUMNS": "200"}).invoke(
        app, [*args, "--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    )


async def scenario(
    connect: Callable[..., Client], runtime: Runtime, settings: Settings
) -> dict[str, str]:
    emu = runtime.connectors.emulator("marketo")
    subscribed = people("subscribed", 4, start=300)
    ids: dict[str, str] = {}
    async with connect("analyst") as analyst, connect("assistant") as assistant:
        # Reads.
        await ok(assistant, "get_person", ref=MK.ref(subscribed[0]))
        await ok(analyst, "get_person", ref=MK.ref(subscribed[0]))
        # A proposal approved and applied, then reverted (approved, applied).
        applied = await propose_titles(assistant, MK, subscribed[:2])
        approve(settings, applied["change_id"])
        assert not (await apply(assistant, applied)).is_error
        revert = await ok(
            assistant, "propose_revert", change_id=applied["change_id"], reason="undo the titles"
        )
        approve(settings, revert["change_id"])
        assert not (await apply(assistant, revert)).is_error
        # A rejection.
        rejected = await propose_titles(assistant, MK, subscribed[2:3])
        result = review(
            settings, "reject", rejected["change_id"], "--reviewer", "compliance",
            "--reason", "not this quarter",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        # A stale apply: the record moved between approval and apply.
        stale = await propose_titles(assistant, MK, subscribed[3:4])
        approve(settings, stale["change_id"])
        emu.set_person_field(MK.native_of(MK.ref(subscribed[3])), MK.title_field, "By Hand")
        assert (await apply(assistant, stale)).is_error
        # A compliance-floor refusal and a plain denial.
        opted_out = people("opted_out", 1)[0]
        await refused(
            assistant, "propose_update_person", refs=[MK.ref(opted_out)],
            fields={OPT_OUT_FIELD["marketo"]: False}, reason="they want the newsletter again",
        )  # fmt: skip
        await refused(
            assistant, "propose_delete_person", connector="marketo",
            person_refs=[MK.ref(opted_out)], reason="remove a duplicate",
        )  # fmt: skip
        # A freeze, lifted.
        frozen = cli(settings, "freeze", "--reason", "incident drill", "--by", "ops-oncall")
        assert frozen.exit_code == 0, frozen.output
        assert cli(settings, "unfreeze", "--by", "ops-oncall").exit_code == 0
        # An exception: the analyst may read consent state for a week.
        granted = run(
            settings, "exception", "grant", "--use-case", "reporting", "--what",
            "tool:get_consent_state", "--expires", "7d", "--reviewer", "mops-lead",
            "--ticket", "RISK-7", "--reason", "consent audit",
        )  # fmt: skip
        assert granted.exit_code == 0, granted.output
        await ok(analyst, "get_consent_state", ref=MK.ref(subscribed[0]))
        # A manifest edit refused, then one that comes into force.
        path = settings.manifest_path
        good = path.read_text()
        path.write_text(good.replace('effect = "allow"', 'effect = "alow"', 1))
        await ok(assistant, "whoami")
        path.write_text(good.replace("calls_per_minute = 120", "calls_per_minute = 90", 1))
        await ok(assistant, "whoami")
    ids.update(
        applied=applied["change_id"],
        revert=revert["change_id"],
        rejected=rejected["change_id"],
        stale=stale["change_id"],
    )
    return ids


# What differs between two runs of the same scenario.
_PATTERNS = (
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?"), "<time>"),
    (re.compile(r"\d{4}-\d\d-\d\d"), "<date>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<digest>"),
    (re.compile(r"\b[0-9a-f]{12}\b"), "<digest12>"),
    (re.compile(r"\bexc_[0-9a-f]{12}\b"), "<exception>"),
    (re.compile(r"(<manifest>):\d+:\d+"), r"\1:<line>"),  # the shipped file grows
)
_VARIABLE_KEYS = {"p50_seconds", "p95_seconds", "loaded_by", "generated_at", "head_hash"}
# Derived from the tool catalogue, the vendors' field tables and the shipped manifest's rules,
# which grow with other work; asserted on their own below, so a new tool or grant does not make
# this report "differ".
_CATALOGUE_KEYS = {"tools", "fields", "rules"}


def normalise(value: Any, changes: dict[str, str]) -> Any:
    """``changes`` maps a placeholder name to the text it stands for (change ids, paths)."""
    if isinstance(value, dict):
        return {
            k: (
                "<catalogue>"
                if k in _CATALOGUE_KEYS and isinstance(v, list)
                else "<varies>"
                if k in _VARIABLE_KEYS and v is not None
                else normalise(v, changes)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [normalise(v, changes) for v in value]
    if isinstance(value, str):
        for name, change_id in changes.items():
            value = value.replace(change_id, f"<{name}>")
        for pattern, placeholder in _PATTERNS:
            value = pattern.sub(placeholder, value)
    return value


async def test_the_report_answers_the_review(
    connect: Callable[..., Client], runtime: Runtime, settings: Settings
) -> None:
    ids = await scenario(connect, runtime, settings)
    result = run(settings, "report", "risk-review", "--since", "1d", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    act = report["activity"]
    assert report["audit"]["chain"] == "intact"
    assert (act["proposals"], act["approved"], act["rejected"]) == (4, 3, 1)
    assert (act["applied"], act["stale"], act["reverts"]) == (2, 1, 1)
    assert [c["id"] for c in act["stale_or_failed"]] == [ids["stale"]]
    assert act["floor_refusals"] == 1
    assert {"key": "assistant-no-delete", "count": 1} in act["denials_by_rule"]
    assert act["reviewer_load"] == [
        {"reviewer": "compliance", "approvals": 0, "rejections": 1},
        {"reviewer": "mops-lead", "approvals": 3, "rejections": 0},
    ]
    assert act["time_to_decision"]["decisions"] == 4
    assert [(f["action"], f["reason"]) for f in report["freezes"]][:1] == [
        ("freeze", "incident drill")
    ]
    assert [f["action"] for f in report["freezes"]] == ["freeze", "unfreeze"]
    [exception] = report["exceptions"]
    assert (exception["use_case"], exception["what"], exception["state"]) == (
        "reporting",
        "tool:get_consent_state",
        "active",
    )
    assert (exception["reviewer"], exception["ticket"]) == ("mops-lead", "RISK-7")
    versions = report["manifest_versions"]
    assert [v["outcome"] for v in versions] == ["in_force", "refused", "in_force"]
    assert versions[0]["changes"] == ["first version recorded"]
    assert "effect" in (versions[1]["reason"] or "")
    assert versions[2]["changes"] == ["changed principal assistant (rate_limit)"]
    reporting = next(u for u in report["use_cases"] if u["name"] == "reporting")
    assert (reporting["review_state"], reporting["days_overdue"]) == ("overdue", 30)
    overdue = [p["subject"] for p in report["problems"] if p["kind"] == "overdue_review"]
    assert overdue == ["reporting"]
    assert reporting["activity"]["calls"] >= 2
    assert "get_person" in reporting["tools"] and "propose_update_person" not in reporting["tools"]
    assert (
        "get_consent_state" not in reporting["tools"]
    )  # the manifest's grant; the exception is listed
    hubspot = next(f for f in reporting["fields"] if f["connector"] == "hubspot")
    assert hubspot["writable"] == [] and "phone" in hubspot["withheld"]

    unused = {p["subject"] for p in report["problems"] if p["kind"] == "unused_grant"}
    assert "assistant-update-hubspot" in unused and "assistant-update-marketo" not in unused
    assert "analyst-read" not in unused and "assistant-read" not in unused
    assert "analyst-read" in reporting["rules"]
    report["problems"] = [p for p in report["problems"] if p["kind"] != "unused_grant"]
    got = normalise(report, {**ids, "manifest": str(settings.manifest_path)})
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    assert got == json.loads(GOLDEN.read_text()), "report differs from " + str(GOLDEN)

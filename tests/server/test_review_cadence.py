"""An overdue review as the assistant meets it: shown in whoami and my_permissions, and, once
the grace period is over, refused and audited under rule review-overdue."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from mcp import Client

from mopsgate.server.settings import Settings
from tests.conftest import REVIEWERS, ROOT, audit_rows
from tests.server.e2e_support import VENDORS, approve
from tests.server.test_changes_kit import apply, ok, propose_titles, refused
from tests.support.reviewers import declare_keys

MK = VENDORS["marketo"]


def overdue_manifest(tmp_path: Path, on_overdue: str) -> Path:
    """The shipped manifest with campaign-ops long overdue and no grace left."""
    target = tmp_path / "permissions.toml"
    shutil.copy(ROOT / "permissions.toml", target)
    text = target.read_text()
    old = 'review_date = 2027-05-01\non_overdue = "warn"'
    assert old in text
    text = text.replace(old, f'review_date = 2020-01-01\non_overdue = "{on_overdue}"', 1)
    target.write_text(text.replace("grace_days = 14", "grace_days = 0", 1))
    declare_keys(target, REVIEWERS)
    return target


@pytest.fixture
def manifest_path(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    return overdue_manifest(tmp_path, getattr(request, "param", "deny"))


async def test_deny_refuses_calls_and_says_why(
    connect: Callable[..., Client], settings: Settings
) -> None:
    async with connect("assistant") as client:
        me = await ok(client, "whoami")
        case = me["use_cases"][0]
        assert (case["name"], case["review"], case["on_overdue"]) == (
            "campaign-ops",
            "enforced",
            "deny",
        )
        assert "was due for review on 2020-01-01" in case["review_note"]
        rights = await ok(client, "my_permissions")
        assert any("every call under it is refused" in n for n in rights["overdue_reviews"])
        read = next(r for r in rights["rows"] if r["tool"] == "get_person")
        assert read["mode"] == "deny"
        text = await refused(client, "get_person", ref=MK.ref(5))
        assert "was due for review on 2020-01-01" in text
        assert "Data Protection Officer" in text and "mops-oncall@example.com" in text
    row = audit_rows(settings)[-1]
    assert (row["tool"], row["decision"], row["rule_id"]) == (
        "get_person",
        "denied",
        "review-overdue",
    )


@pytest.mark.parametrize("manifest_path", ["propose_only"], indirect=True)
async def test_propose_only_keeps_reads_and_proposals_but_not_applies(
    connect: Callable[..., Client], settings: Settings
) -> None:
    async with connect("assistant") as client:
        await ok(client, "get_person", ref=MK.ref(5))
        plan = await propose_titles(client, MK, [5])
        approve(settings, plan["change_id"])
        result = await apply(client, plan)
        assert result.is_error
        assert "nothing under it is applied until it is reviewed" in result.content[0].text
        change = await ok(client, "get_change", change_id=plan["change_id"])
        assert change["status"] == "approved"  # waits for the review, not lost
    row = [r for r in audit_rows(settings) if r["tool"] == "apply_change"][-1]
    assert (row["tool"], row["decision"], row["rule_id"]) == (
        "apply_change",
        "denied",
        "review-overdue",
    )


@pytest.mark.parametrize("manifest_path", ["warn"], indirect=True)
async def test_warn_only_shows_it(connect: Callable[..., Client]) -> None:
    async with connect("assistant") as client:
        case = (await ok(client, "whoami"))["use_cases"][0]
        assert (case["review"], case["on_overdue"]) == ("overdue", "warn")
        assert 'on_overdue = "warn": nothing is refused' in case["review_note"]
        await ok(client, "get_person", ref=MK.ref(5))

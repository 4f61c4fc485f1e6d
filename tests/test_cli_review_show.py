"""`mopsgate review show` says what things are, like the console's change page: the list or
campaign by name and what it feeds, membership as joins / leaves, and people by name, email and
company only within the PII rights of a reviewer who proves who they are with their own key.

One state directory for the module: the tests read one proposed change (``newsletter``) or
propose their own, and a show adds at most its own audit row."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from mopsgate.sandbox.marketo import ids as mk
from mopsgate.server.app import Runtime, build_runtime
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.console.support import propose
from tests.server.test_changes_kit import WELCOME_TRIGGER, people
from tests.support.module_state import module_settings

# The sandbox in memory, as the runtime that proposed has it (the settings fixture): the same
# seed, read without first writing a sandbox file into each state directory (half a second).
runner = CliRunner(env={"MOPSGATE_SANDBOX": "memory"})


def show(settings: Settings, change_id: str, *extra: str) -> Result:
    where = ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    return runner.invoke(app, ["review", "show", change_id, *extra, *where])


def shows(settings: Settings) -> list[dict[str, Any]]:
    return [r for r in audit_rows(settings) if r["tool"] == "review show"]


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Runtime]:
    settings = module_settings(tmp_path_factory)
    return settings, build_runtime(settings, env={})


@pytest.fixture(scope="module")
def newsletter(state: tuple[Settings, Runtime]) -> str:
    """A proposed change adding three subscribed people to the newsletter list."""
    refs = [mk.lead_ref(i) for i in people("subscribed", 3, not_in=0)]
    plan = propose(state[1], "propose_add_to_list", list_ref=mk.list_ref(0), person_refs=refs)
    return str(plan["change_id"])


def test_show_names_the_list_what_it_feeds_and_who_joins(
    state: tuple[Settings, Runtime], newsletter: str
) -> None:
    settings, _ = state
    before = shows(settings)
    result = show(settings, newsletter)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "List Newsletter - Monthly (static list" in out
    assert "Feeds email sends" in out and "Monthly Newsletter" in out
    assert out.count("joins Newsletter - Monthly") == 3
    assert "Use case: campaign-ops" in out
    # Without a reviewer who proves who they are, people are references only.
    assert "references only; add --reviewer NAME" in out
    assert not re.search(r"[a-z0-9.*]+@", out.split("Records 1-3 of 3")[1].split("\n\n")[0])
    assert shows(settings) == before  # this show wrote no row


def test_a_reviewer_with_their_key_sees_people_within_their_pii_rights(
    state: tuple[Settings, Runtime], newsletter: str
) -> None:
    settings, _ = state
    result = show(settings, newsletter, "--reviewer", "mops-lead")
    assert result.exit_code == 0, result.output
    # mops-lead's rights are the default, masked: names and emails come masked, three of them.
    masked = re.findall(r"[A-Z]\*\*\* .*<[a-z0-9]\*\*\*@[^>]+>.*joins Newsletter", result.output)
    assert len(masked) == 3, result.output
    row = shows(settings)[-1]
    assert row["principal"] == "mops-lead" and "3 people shown (masked)" in row["result_summary"]
    assert row["use_case"] == "campaign-ops"
    # The data-access record: whom the reviewer was shown.
    shown = [mk.lead_ref(i) for i in people("subscribed", 3, not_in=0)]
    assert sorted(json.loads(str(row["records"]))) == sorted(shown)


def test_people_are_not_shown_to_a_typed_name_or_another_reviewers_key(
    state: tuple[Settings, Runtime], newsletter: str, reviewer_config: Path
) -> None:
    settings, _ = state
    change_id, before = newsletter, shows(settings)
    keys = reviewer_config / "mopsgate" / "reviewers"
    theirs = show(
        settings, change_id, "--reviewer", "compliance", "--key", str(keys / "mops-lead.pem")
    )
    assert theirs.exit_code == 1 and "not declared for compliance" in theirs.output
    (keys / "compliance.pem").unlink()
    typed = show(settings, change_id, "--reviewer", "compliance")
    assert typed.exit_code == 1 and "no key for compliance" in typed.output
    assert shows(settings) == before  # refused before anything was shown


def test_show_names_a_campaign_and_its_audience(state: tuple[Settings, Runtime]) -> None:
    settings, runtime = state
    plan = propose(
        runtime,
        "propose_trigger_campaign",
        campaign_ref=WELCOME_TRIGGER,
        person_refs=[mk.lead_ref(i) for i in people("subscribed", 2)],
    )
    result = show(settings, str(plan["change_id"]))
    assert result.exit_code == 0, result.output
    assert re.search(r"Campaign Welcome Trigger - Send \(sends email, active", result.output)
    assert result.output.count("is sent Welcome Trigger - Send") == 2

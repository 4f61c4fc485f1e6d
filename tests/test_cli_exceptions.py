"""Time-boxed exceptions: granted with a reviewer's signature, in force at the next call,
visible in explain, expiring on their own, revocable, audited; never past the floor."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp import Client
from typer.testing import CliRunner

from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.server.e2e_support import VENDORS
from tests.server.test_changes_kit import ok, refused, sql

HS = VENDORS["hubspot"]


def run(settings: Settings, *args: str) -> Any:
    return CliRunner(env={"COLUMNS": "200"}).invoke(
        app, [*args, "--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    )


def grant(settings: Settings, what: str, *extra: str, use_case: str = "reporting") -> Any:
    return run(
        settings, "exception", "grant", "--use-case", use_case, "--what", what,
        "--expires", "7d", "--reviewer", "mops-lead", "--ticket", "RISK-42",
        "--reason", "quarter-end consent audit", *extra,
    )  # fmt: skip


def granted_id(result: Any) -> str:
    assert result.exit_code == 0, result.output
    return str(result.stdout.split()[1].rstrip(":"))


def exception_rows(settings: Settings) -> list[dict[str, Any]]:
    return [r for r in audit_rows(settings) if r["kind"] == "exception"]


async def test_grant_takes_effect_and_revoke_ends_it(
    settings: Settings, connect: Callable[..., Client]
) -> None:
    async with connect("analyst") as client:
        before = await refused(client, "get_consent_state", ref=HS.ref(5))
        assert "not permitted" in before
        exc_id = granted_id(grant(settings, "tool:get_consent_state"))
        await ok(client, "get_consent_state", ref=HS.ref(5))
        explained = run(settings, "manifest", "explain", "--principal", "analyst")
        assert exc_id in explained.stdout and "tool:get_consent_state" in explained.stdout
        assert "RISK-42" in explained.stdout and "get_consent_state" in explained.stdout
        revoked = run(
            settings, "exception", "revoke", exc_id, "--reviewer", "compliance",
            "--reason", "audit done early",
        )  # fmt: skip
        assert revoked.exit_code == 0, revoked.output
        await refused(client, "get_consent_state", ref=HS.ref(5))
    rows = exception_rows(settings)
    assert [(r["tool"], r["principal"], r["outcome"]) for r in rows] == [
        ("exception grant", "mops-lead", "ok"),
        ("exception revoke", "compliance", "ok"),
    ]
    assert {r["use_case"] for r in rows} == {"reporting"}
    assert all(exc_id == r["result_summary"] for r in rows)
    listing = run(settings, "exception", "list", "--all")
    assert "revoked" in listing.stdout and exc_id in listing.stdout
    assert "No exceptions in force." in run(settings, "exception", "list").stdout


async def test_an_exception_lapses_at_its_expiry(
    settings: Settings, connect: Callable[..., Client]
) -> None:
    exc_id = granted_id(grant(settings, "tool:get_consent_state"))
    async with connect("analyst") as client:
        await ok(client, "get_consent_state", ref=HS.ref(5))
        # Its week has passed: nothing is run, nothing revoked; the next call is refused.
        sql(
            settings,
            "UPDATE exceptions SET expires_at = '2020-01-01T00:00:00.000000+00:00' WHERE id = ?",
            exc_id,
        )
        (settings.home / "exceptions.stamp").touch()
        await refused(client, "get_consent_state", ref=HS.ref(5))
    assert "expired" in run(settings, "exception", "list", "--all").stdout
    again = run(settings, "exception", "revoke", exc_id, "--reviewer", "mops-lead", "--reason", "x")
    assert again.exit_code == 1 and "already expired" in again.output


def test_a_raised_cap_shows_in_explain(settings: Settings) -> None:
    granted_id(grant(settings, "max_records:500", use_case="campaign-ops"))
    explained = run(settings, "manifest", "explain", "--principal", "assistant").stdout
    assert "500" in explained and "max_records:500" in explained
    lower = grant(settings, "max_records:100", use_case="campaign-ops")
    assert lower.exit_code == 1 and "only ever raises a cap" in lower.output


def test_the_floor_and_the_reviewer_are_enforced(settings: Settings) -> None:
    delete = grant(settings, "tool:propose_delete_person", use_case="campaign-ops")
    assert delete.exit_code == 1 and "no exception can enable deletes" in delete.output
    consent = grant(settings, "write_field:unsubscribed", use_case="campaign-ops")
    assert consent.exit_code == 1 and "consent field" in consent.output
    # mops-lead may not approve consent changes, so may not grant an opt-out tool either.
    opt_out = grant(settings, "tool:propose_opt_out")
    assert opt_out.exit_code == 1 and "may not approve consent" in opt_out.output
    stranger = run(
        settings, "exception", "grant", "--use-case", "reporting", "--what",
        "tool:get_consent_state", "--expires", "7d", "--reviewer", "nobody",
        "--ticket", "T", "--reason", "r",
    )  # fmt: skip
    assert stranger.exit_code == 1 and "'nobody' is not a reviewer" in stranger.output
    too_long = grant(settings, "tool:get_consent_state", "--expires", "200d")
    assert too_long.exit_code == 2 or "90 days" in too_long.output
    assert run(settings, "exception", "list", "--all").stdout.startswith("No exceptions.")
    rows = exception_rows(settings)
    assert len(rows) == 5 and {r["outcome"] for r in rows} <= {"denied", "error"}
    assert [r["decision"] for r in rows[:1]] == ["denied"]


def test_an_exception_a_deny_rule_would_undo_is_refused(settings: Settings) -> None:
    """Rule analyst-no-phone denies phone numbers to the analyst (the only principal of the
    reporting use case) whatever the tool, and a deny wins over every grant: an exception to
    read them would be listed as in force while changing nothing. It is refused, naming the
    rule, audited, and nothing is stored. Where no deny stands in the way it is granted."""
    undone = grant(settings, "read_field:phone")
    assert undone.exit_code == 1, undone.output
    assert "would change nothing" in undone.output and "analyst-no-phone" in undone.output
    assert run(settings, "exception", "list", "--all").stdout.startswith("No exceptions.")
    assert [(r["tool"], r["outcome"]) for r in exception_rows(settings)] == [
        ("exception grant", "denied")
    ]
    granted_id(grant(settings, "read_field:phone", use_case="campaign-ops"))


def test_a_tool_that_does_not_exist_is_named_with_the_ones_that_do(settings: Settings) -> None:
    """A typo in --what tool:NAME says what was meant and which tools can be named; nothing is
    granted, and the refusal is audited."""
    typo = grant(settings, "tool:get_consent_stat")
    assert typo.exit_code == 1, typo.output
    said = " ".join(typo.output.split())
    assert "there is no tool 'get_consent_stat'; did you mean 'get_consent_state'?" in said, said
    assert "Tools an exception can name:" in said and "get_activities" in said, said
    assert run(settings, "exception", "list", "--all").stdout.startswith("No exceptions.")
    assert [r["outcome"] for r in exception_rows(settings)] == ["error"]

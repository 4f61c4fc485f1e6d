"""`mopsgate audit query`: every filter, alone and combined, on a log a server really wrote.

The log is written once for the module (``written``): querying reads it and writes nothing, so
every test sees the same eleven rows."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import anyio
import pytest
from mcp import Client
from typer.testing import CliRunner

from mopsgate.server.app import Runtime, build_runtime, build_server
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.server.e2e_support import VENDORS, approve, review
from tests.server.test_changes_kit import apply, ok, propose_titles, refused
from tests.support.module_state import module_keys, module_settings

MK = VENDORS["marketo"]
P5, P6, P7 = MK.ref(5), MK.ref(6), MK.ref(7)


def query(settings: Settings, *args: str) -> Any:
    runner = CliRunner(env={"COLUMNS": "200"})
    return runner.invoke(app, ["audit", "query", *args, "--home", str(settings.home)])


def rows(settings: Settings, *args: str) -> list[dict[str, Any]]:
    result = query(settings, *args, "--format", "jsonl")
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def keys(found: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["principal"], r["tool"]) for r in found]


def connect(runtime: Runtime, principal: str) -> Client:
    server = build_server(runtime, transport="memory", resolve_principal=lambda _ctx: principal)
    return Client(server, raise_exceptions=True)


async def write_log(settings: Settings) -> dict[str, str]:
    """assistant reads 5, proposes 5+6 (approved, applied, a revert proposed) and 7 (rejected),
    is refused a delete; analyst reads 5 and 7."""
    runtime = build_runtime(settings, env={})
    async with connect(runtime, "assistant") as client:
        await ok(client, "get_person", ref=P5)
        applied = await propose_titles(client, MK, [5, 6])
        approve(settings, applied["change_id"])
        assert not (await apply(client, applied)).is_error
        revert = await ok(
            client, "propose_revert", change_id=applied["change_id"], reason="undo the titles"
        )
        rejected = await propose_titles(client, MK, [7])
        result = review(
            settings, "reject", rejected["change_id"], "--reviewer", "compliance",
            "--reason", "not this one",
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        await refused(
            client, "propose_delete_person", connector="marketo", person_refs=[P6],
            reason="remove a duplicate",
        )  # fmt: skip
    async with connect(runtime, "analyst") as client:
        await ok(client, "get_person", ref=P5)
        await ok(client, "get_person", ref=P7)
    return {
        "applied": applied["change_id"],
        "rejected": rejected["change_id"],
        "revert": revert["change_id"],
    }


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict[str, str]]:
    """A state directory whose log :func:`write_log` wrote, and the changes it made."""
    settings = module_settings(tmp_path_factory)
    with pytest.MonkeyPatch.context() as env:  # the reviewers sign with their own keys
        env.setenv("XDG_CONFIG_HOME", str(module_keys(tmp_path_factory)))
        return settings, anyio.run(write_log, settings)


def test_each_filter(written: tuple[Settings, dict[str, str]]) -> None:
    settings, session = written
    everything = rows(settings)
    assert len(everything) == 11
    assert keys(rows(settings, "--principal", "analyst")) == [("analyst", "get_person")] * 2
    assert {r["use_case"] for r in rows(settings, "--use-case", "reporting")} == {"reporting"}
    assert len(rows(settings, "--use-case", "reporting")) == 2
    campaign = rows(settings, "--use-case", "campaign-ops")
    assert {r["principal"] for r in campaign} == {"assistant", "mops-lead", "compliance"}
    assert [r["principal"] for r in rows(settings, "--tool", "get_person")] == [
        "assistant",
        "analyst",
        "analyst",
    ]
    assert keys(rows(settings, "--change", session["applied"])) == [
        ("assistant", "propose_update_person"),
        ("mops-lead", "review approve"),
        ("assistant", "apply_change"),
        ("assistant", "apply_change"),
    ]
    denied = rows(settings, "--decision", "denied")
    assert keys(denied) == [("assistant", "propose_delete_person")]
    assert len(rows(settings, "--decision", "allowed")) == 10
    # --since / --until on the rows' own timestamps.
    fourth = everything[3]["ts"]
    assert [r["seq"] for r in rows(settings, "--since", fourth)] == [
        r["seq"] for r in everything[3:]
    ]
    assert [r["seq"] for r in rows(settings, "--until", fourth)] == [
        r["seq"] for r in everything[:4]
    ]
    assert [r["seq"] for r in rows(settings, "--limit", "3")] == [1, 2, 3]


def test_record_finds_reads_proposals_reviews_and_applies(
    written: tuple[Settings, dict[str, str]],
) -> None:
    settings, session = written
    assert keys(rows(settings, "--record", P5)) == [
        ("assistant", "get_person"),
        ("assistant", "propose_update_person"),
        ("mops-lead", "review approve"),
        ("assistant", "apply_change"),
        ("assistant", "apply_change"),
        ("assistant", "propose_revert"),
        ("analyst", "get_person"),
    ]
    seven = rows(settings, "--record", P7)
    assert keys(seven) == [
        ("assistant", "propose_update_person"),
        ("compliance", "review reject"),
        ("analyst", "get_person"),
    ]
    assert {r["change_id"] for r in seven[:2]} == {session["rejected"]}
    # The refused delete named 6 in its arguments only: nothing was read or planned.
    assert "propose_delete_person" not in {r["tool"] for r in rows(settings, "--record", P6)}
    assert rows(settings, "--record", MK.ref(999)) == []
    combined = rows(settings, "--record", P5, "--principal", "analyst", "--use-case", "reporting")
    assert keys(combined) == [("analyst", "get_person")]


def test_formats(written: tuple[Settings, dict[str, str]]) -> None:
    settings, _ = written
    table = query(settings, "--record", P7)
    assert table.exit_code == 0
    assert "review reject" in table.stdout and "reporting" in table.stdout
    assert "3 row(s) (record marketo:lead:" in table.stderr
    text = query(settings, "--record", P7, "--format", "csv").stdout
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert [r["tool"] for r in parsed] == ["propose_update_person", "review reject", "get_person"]
    assert json.loads(parsed[2]["records"]) == [P7]


def test_bad_options_are_refused(settings: Settings) -> None:
    bad = query(settings, "--decision", "maybe")
    assert bad.exit_code == 2 and "neither allowed nor denied" in bad.output
    assert query(settings, "--format", "xml").exit_code == 2
    assert query(settings, "--since", "yesterday").exit_code == 2

"""An exception's end and its grant are evidence like any decision.

An exception that lapses at its expiry is recorded in the audit log by the first call that
sees it, once, however often and by however many processes it is seen. A grant whose audit
row cannot be written is not stored (the log refuses every insert, as a broken disk would make
it). A malformed --expires is refused and audited like every other refusal."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import timedelta

from mcp import Client

from mopsgate.governance.change_model import utcnow
from mopsgate.governance.waivers import lapse_event
from mopsgate.server.settings import Settings
from tests.server.test_changes_kit import ok, refused, sql
from tests.support.changes import with_storage
from tests.test_cli_exceptions import HS, exception_rows, grant, granted_id, run


def lapses(settings: Settings) -> list[dict[str, object]]:
    return [r for r in exception_rows(settings) if r["tool"] == "exception lapse"]


async def test_a_lapse_is_recorded_once_when_first_seen(
    settings: Settings, connect: Callable[..., Client]
) -> None:
    exc_id = granted_id(grant(settings, "tool:get_consent_state"))
    async with connect("analyst") as client:
        await ok(client, "get_consent_state", ref=HS.ref(5))
        assert lapses(settings) == []
        sql(
            settings,
            "UPDATE exceptions SET expires_at = ? WHERE id = ?",
            (utcnow() - timedelta(minutes=1)).isoformat(timespec="microseconds"),
            exc_id,
        )
        (settings.home / "exceptions.stamp").touch()
        await refused(client, "get_consent_state", ref=HS.ref(5))
        await refused(client, "get_consent_state", ref=HS.ref(6))
    [row] = lapses(settings)
    assert row["result_summary"] == exc_id and row["principal"] == "(system)"
    assert row["use_case"] == "reporting" and "expired at" in str(row["reason"])
    # Another process noticing it later writes nothing more.
    again = with_storage(settings, lambda s: s.exceptions.record_lapses(utcnow(), lapse_event))
    assert again == [] and len(lapses(settings)) == 1


def test_a_grant_without_its_audit_row_is_not_stored(settings: Settings) -> None:
    grant(settings, "tool:get_activities")  # the database exists, with one grant
    conn = sqlite3.connect(settings.db_path)
    conn.execute(
        "CREATE TRIGGER audit_down BEFORE INSERT ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
    )
    conn.commit()
    conn.close()
    result = grant(settings, "tool:get_consent_state")
    assert result.exit_code == 1 and "The audit log could not be written" in result.output
    listed = run(settings, "exception", "list", "--all").stdout
    assert "get_activities" in listed and "get_consent_state" not in listed


def test_a_malformed_expiry_is_refused_and_audited(settings: Settings) -> None:
    result = grant(settings, "tool:get_consent_state", "--expires", "next tuesday")
    assert result.exit_code == 1 and "is neither a span like 7d" in result.output
    [row] = exception_rows(settings)
    assert row["tool"] == "exception grant" and row["error_code"] == "invalid_input"
    assert run(settings, "exception", "list", "--all").stdout.startswith("No exceptions.")

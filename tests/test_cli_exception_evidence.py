"""`audit verify` re-checks every stored exception's signed grant and revocation, as it does
decisions: an exception edited in the database (a later expiry, a wider waiver, a revocation
wiped) is named and the command exits 1."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.server.test_changes_kit import sql
from tests.test_cli_exceptions import grant, granted_id, run


def verify(settings: Settings) -> Any:
    return CliRunner().invoke(app, ["audit", "verify", "--home", str(settings.home)])


def test_stored_exceptions_are_verified(settings: Settings) -> None:
    exc_id = granted_id(grant(settings, "tool:get_consent_state"))
    other = granted_id(grant(settings, "tool:get_activities"))
    revoked = run(
        settings, "exception", "revoke", other, "--reviewer", "compliance", "--reason", "done"
    )
    assert revoked.exit_code == 0, revoked.output
    clean = verify(settings)
    assert clean.exit_code == 0, clean.output
    assert "OK: 3 grants and revocations of exceptions, every signature verifies" in clean.output

    sql(
        settings,
        "UPDATE exceptions SET expires_at = '2099-01-01T00:00:00.000000+00:00' WHERE id = ?",
        exc_id,
    )
    sql(settings, "UPDATE exceptions SET revoked_at = NULL, revoked_by = NULL WHERE id = ?", other)
    tampered = verify(settings)
    assert tampered.exit_code == 1
    out = tampered.output
    assert f"TAMPERED: exception grant of exception {exc_id}" in out
    assert "the stored expiry differ(s) from the signed grant" in out
    assert f"TAMPERED: exception revoke of exception {other}" in out
    assert "the stored reviewer, time differ(s) from the signed revoke" in out


def test_an_exception_widened_in_the_database_fails(settings: Settings) -> None:
    exc_id = granted_id(grant(settings, "tool:get_consent_state"))
    sql(
        settings,
        "UPDATE exceptions SET what = 'tool:get_activities', reviewer = 'compliance' WHERE id = ?",
        exc_id,
    )
    tampered = verify(settings)
    assert tampered.exit_code == 1
    assert "the stored what, reviewer differ(s) from the signed grant" in tampered.output

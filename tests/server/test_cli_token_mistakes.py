"""`mopsgate token` typed wrong: a token that would be born expired is not made, and a
revocation that names nobody mopsgate knows says so instead of reporting success."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner, Result

from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows


def _token(settings: Settings, *args: str) -> Result:
    opts = ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    return CliRunner().invoke(app, ["token", *args, *opts])


@pytest.mark.parametrize("days", ["0", "-3"])
def test_a_token_that_would_be_born_expired_is_not_made(settings: Settings, days: str) -> None:
    result = _token(settings, "create", "--principal", "assistant", "--ttl-days", days)
    assert result.exit_code == 2, result.output
    assert "--ttl-days" in result.output and "mgt_" not in result.output
    assert not settings.db_path.exists() or audit_rows(settings) == []


def test_revoking_a_principal_nobody_knows_is_not_reported_as_done(settings: Settings) -> None:
    assert _token(settings, "create", "--principal", "assistant").exit_code == 0
    typo = _token(settings, "revoke", "--principal", "asistant")
    assert typo.exit_code == 1, typo.output
    said = " ".join(typo.output.split())
    assert "no tokens of 'asistant'" in said and "analyst, assistant" in said, said
    done = _token(settings, "revoke", "--principal", "assistant")
    assert done.exit_code == 0 and "revoked 1 token(s) of assistant" in done.output
    again = _token(settings, "revoke", "--principal", "assistant")
    assert again.exit_code == 0 and "revoked 0 token(s) of assistant" in again.output

"""``mopsgate token create``: shown once, stored hashed, audited, only for known principals."""

from __future__ import annotations

import sqlite3

from typer.testing import CliRunner, Result

from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.support.tokens import stored_token


def _invoke(settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(
        app,
        [
            "token",
            "create",
            *args,
            "--manifest",
            str(settings.manifest_path),
            "--home",
            str(settings.home),
        ],
    )


def test_token_is_printed_once_and_stored_hashed(settings: Settings) -> None:
    result = _invoke(settings, "--principal", "assistant", "--label", "laptop")
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token.startswith("mgt_")
    record = stored_token(settings, token)
    assert record is not None and record.principal == "assistant"
    raw = b"".join(p.read_bytes() for p in settings.home.glob("mopsgate.db*"))
    assert token.encode() not in raw
    row = audit_rows(settings)[-1]
    assert (row["kind"], row["principal"], row["transport"]) == ("token", "assistant", "cli")
    assert token not in str(row)


def test_token_for_unknown_principal_is_refused(settings: Settings) -> None:
    result = _invoke(settings, "--principal", "mallory")
    assert result.exit_code == 1
    assert "unknown principal 'mallory'" in result.output
    assert (
        not settings.db_path.exists()
        or not sqlite3.connect(settings.db_path)
        .execute("SELECT name FROM sqlite_master WHERE name='bearer_tokens'")
        .fetchall()
    )


def test_revoked_tokens_stop_working_and_revocation_is_audited(settings: Settings) -> None:
    token = _invoke(settings, "--principal", "assistant").output.strip()
    result = CliRunner().invoke(
        app, ["token", "revoke", "--principal", "assistant", "--home", str(settings.home)]
    )
    assert result.exit_code == 0 and "revoked 1 token(s) of assistant" in result.output
    record = stored_token(settings, token)
    assert record is not None and record.revoked
    row = audit_rows(settings)[-1]
    assert (row["tool"], row["result_summary"]) == ("token revoke", "1 token(s) revoked")

"""The HTTP 401, as MCP Inspector met it: no OAuth metadata to chase, a body that says how to
get a token, and revoked or expired tokens refused the same way (their use audited)."""

from __future__ import annotations

import sqlite3
from typing import Any

import httpx
from typer.testing import CliRunner

from mopsgate.server.cli import app
from mopsgate.server.settings import Settings, ensure_home
from tests.conftest import audit_rows
from tests.support.tokens import issue_token

CALL = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "tools/call",
    "params": {"name": "whoami", "arguments": {}},
}


def _post(base: str, token: str | None) -> httpx.Response:
    headers = {"Accept": "application/json, text/event-stream"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.post(f"{base}/mcp", json=CALL, headers=headers, timeout=10)


def _tool_calls(settings: Settings) -> list[dict[str, Any]]:
    return (
        [r for r in audit_rows(settings) if r["kind"] == "tool_call"]
        if settings.db_path.exists()
        else []
    )


def test_inspector_without_a_token_is_told_how_to_get_one(http_base: str, settings: Settings):
    response = _post(http_base, None)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer") and "resource_metadata" not in challenge
    body = response.json()
    assert "mopsgate token create --principal" in body["how_to_get_a_token"]
    assert body["header"] == "Authorization: Bearer <token>"
    for path in (
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ):
        assert httpx.get(f"{http_base}{path}", timeout=10).status_code == 404
    assert _tool_calls(settings) == []


def test_a_token_never_issued_is_refused_without_an_audit_row(http_base: str, settings: Settings):
    response = _post(http_base, "mgt_guessed-token")
    assert response.status_code == 401
    assert "not one mopsgate issued" in response.json()["error_description"]
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert not [r for r in audit_rows(settings) if r["kind"] in ("token", "tool_call")]


def test_a_revoked_token_is_refused_on_the_very_next_request(http_base: str, settings: Settings):
    """The server caches token lookups; `mopsgate token revoke` run in another process (here:
    the CLI, beside the running server) still cuts the token off at the next request."""
    ensure_home(settings)
    token = issue_token(settings, "analyst")
    for _ in range(2):  # accepted, and now cached, until revoked
        assert _post(http_base, token).status_code != 401
    revoked = CliRunner().invoke(
        app, ["token", "revoke", "--principal", "analyst", "--home", str(settings.home)]
    )
    assert revoked.exit_code == 0 and "revoked 1 token(s)" in revoked.output
    calls_before = len(_tool_calls(settings))
    response = _post(http_base, token)
    assert response.status_code == 401
    assert "revoked" in response.json()["error_description"]
    assert "mopsgate token create" in response.json()["how_to_get_a_token"]
    assert len(_tool_calls(settings)) == calls_before  # the call never ran
    row = audit_rows(settings)[-1]
    assert (row["kind"], row["principal"], row["decision"], row["rule_id"]) == (
        "token",
        "analyst",
        "denied",
        "token-revoked",
    )


def test_an_expired_token_is_refused_and_its_use_audited(http_base: str, settings: Settings):
    ensure_home(settings)
    token = issue_token(settings, "analyst", ttl_days=1)
    with sqlite3.connect(settings.db_path) as conn:
        conn.execute("UPDATE bearer_tokens SET expires_at = '2020-01-01T00:00:00+00:00'")
    response = _post(http_base, token)
    assert response.status_code == 401
    assert "expired" in response.json()["error_description"]
    assert _tool_calls(settings) == []
    assert audit_rows(settings)[-1]["rule_id"] == "token-expired"

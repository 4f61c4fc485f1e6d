"""What README says of a GET to /mcp without a session (found while checking whether
mopsgate's wiring adds the header): the MCP SDK answers 400 and names, in Mcp-Session-Id, a
session it opened for that request and discarded at once, so the id answers 404 and no session
is left behind. If the SDK stops sending the header, this fails and README's sentence goes."""

from __future__ import annotations

import httpx

from mopsgate.server.settings import Settings
from tests.support.tokens import issue_token


def test_a_get_without_a_session_leaves_no_session(http_base: str, settings: Settings) -> None:
    auth = {"Authorization": f"Bearer {issue_token(settings, 'assistant')}"}
    stream = {**auth, "Accept": "text/event-stream"}
    first = httpx.get(f"{http_base}/mcp", headers=stream, timeout=10)
    assert first.status_code == 400 and "Missing session ID" in first.text
    named = first.headers["mcp-session-id"]
    again = httpx.get(f"{http_base}/mcp", headers={**stream, "Mcp-Session-Id": named}, timeout=10)
    assert again.status_code == 404

"""A refresh token revoked between approval and apply (catalogue U-02).

HubSpot over OAuth: the change is planned and approved while the access token is good; then
the access token expires and the refresh token has been revoked. The apply's re-read fails
with the vendor's auth refusal, nothing is written, the change is not applied, the refusal is
audited; five more calls cost one token request each at most (no retry storm).
"""

from __future__ import annotations

from mopsgate.connectors.composed import ComposedConnector
from mopsgate.connectors.hubspot.auth import oauth_auth
from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import text_of
from tests.server.e2e_support import VENDORS
from tests.server.test_changes_kit import apply, approved_titles, last_refusal, ok, people

V = VENDORS["hubspot"]
TOKEN = "/oauth/v1/token"


async def test_a_revoked_refresh_token_fails_the_apply_before_any_write(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("hubspot")
    client = runtime.connectors.get("hubspot")
    assert isinstance(client, ComposedConnector)
    access, _ = emu.core.issue_token()
    client.http.auth = oauth_auth(
        hs.SANDBOX_CLIENT_ID, hs.SANDBOX_CLIENT_SECRET, "revoked-refresh-token", access_token=access
    )
    idxs = people("subscribed", 2, start=180)
    before = {i: emu.person_fields(V.native(i))[V.title_field] for i in idxs}
    async with connect("assistant") as mcp:
        plan = await approved_titles(mcp, settings, V, idxs, "Never Without Auth")
        emu.core.tokens[access] = 0.0  # the access token expires; its refresh was revoked
        emu.core.reset_log()
        result = await apply(mcp, plan)
        text = text_of(result)
        assert result.is_error and "refresh token" in text, text
        assert emu.core.write_requests == []
        assert len(emu.requests_to(TOKEN)) == 1  # one refresh attempt, never retried
        change = await ok(mcp, "get_change", change_id=plan["change_id"])
        assert change["status"] == "failed" and change["outcome"]["written"] == 0, change
        for i in range(5):
            again = await mcp.call_tool("get_person", {"ref": V.ref(i)})
            assert again.is_error and "refresh token" in text_of(again)
    assert {i: emu.person_fields(V.native(i))[V.title_field] for i in idxs} == before
    assert len(emu.requests_to(TOKEN)) <= 6 and len(emu.core.requests) <= 12
    assert last_refusal(settings)["change_id"] == plan["change_id"]
    assert last_refusal(settings, "get_person")["error_code"] == "upstream_auth_failed"

"""PostgreSQL with the audit tables writable but not the calls-per-minute window that the
same audit commit updates (a privilege revoked by hand, say): every call is refused as
unaudited, and a refused proposal leaves no change behind, as when the audit log itself
refuses rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from mopsgate.server.settings import Settings
from tests.conftest import text_of
from tests.server.test_changes_kit import MK, REASON, ok, people, propose_titles
from tests.server.test_readonly_database import APP_ROLE, _admin, app_role_url  # noqa: F401
from tests.support.postgres import replica_settings


@pytest.fixture
def settings(
    tmp_path: Path, manifest_path: Path, pg_url: str, request: pytest.FixtureRequest
) -> Iterator[Settings]:
    url = request.getfixturevalue("app_role_url")  # the server's own role, not a superuser
    yield replica_settings(tmp_path, manifest_path, url)


async def test_a_refused_proposal_leaves_no_change_when_the_window_takes_no_writes(
    connect, pg_url: str
):
    idxs = people("subscribed", 2, start=150)
    async with connect("assistant") as client:
        kept = await propose_titles(client, MK, idxs)
        _admin(pg_url, f"REVOKE INSERT, UPDATE, DELETE ON call_window FROM {APP_ROLE}")
        try:
            refused = await client.call_tool(
                "propose_update_person",
                {"refs": [MK.ref(idxs[0])], "fields": {"title": "Never"}, "reason": REASON},
            )
            read = await client.call_tool("get_person", {"ref": MK.ref(idxs[1])})
        finally:
            _admin(pg_url, f"GRANT INSERT, UPDATE, DELETE ON call_window TO {APP_ROLE}")
        for result in (refused, read):
            text = text_of(result)
            assert result.is_error and text.startswith("[audit_unavailable]"), text
            assert result.structured_content is None
        listed = await ok(client, "list_my_changes")
    assert [c["change_id"] for c in listed["changes"]] == [kept["change_id"]]
    with psycopg.connect(pg_url) as conn:
        stored = conn.execute("SELECT id FROM changes").fetchall()
    assert stored == [(kept["change_id"],)]

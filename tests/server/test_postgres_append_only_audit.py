"""PostgreSQL with the audit log append-only for the server's role (INSERT but no SELECT,
UPDATE or DELETE on ``audit_log`` and ``audit_records``, a common hardening): proposals are
stored and audited as usual. The check a proposal makes that the audit log would take its row
asks only for what the audit writer needs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from mopsgate.server.settings import Settings
from tests.server.test_changes_kit import MK, people, propose_titles
from tests.server.test_readonly_database import APP_ROLE, _admin, app_role_url  # noqa: F401
from tests.support.postgres import replica_settings


@pytest.fixture
def settings(
    tmp_path: Path, manifest_path: Path, pg_url: str, request: pytest.FixtureRequest
) -> Iterator[Settings]:
    url = request.getfixturevalue("app_role_url")  # the server's own role, not a superuser
    _admin(pg_url, f"REVOKE SELECT, UPDATE, DELETE ON audit_log, audit_records FROM {APP_ROLE}")
    yield replica_settings(tmp_path, manifest_path, url)


async def test_a_proposal_is_stored_when_the_audit_log_is_append_only(connect, pg_url: str):
    async with connect("assistant") as client:
        plan = await propose_titles(client, MK, people("subscribed", 1, start=170))
    with psycopg.connect(pg_url) as conn:
        stored = conn.execute("SELECT id FROM changes").fetchall()
        audited = conn.execute(
            "SELECT tool, outcome FROM audit_log WHERE change_id = %s", (plan["change_id"],)
        ).fetchall()
    assert stored == [(plan["change_id"],)]
    assert audited == [("propose_update_person", "ok")]

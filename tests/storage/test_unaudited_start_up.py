"""A server start withdraws a proposal's change that a dead process left without its audit row
(stored, then the process died before the row was written), once it is older than the grace a
proposal still in flight gets; the withdrawal is on record. On each backend. And on PostgreSQL
with the audit log append-only for the server's role (no SELECT on it), whether a change is on
record is read from the change alone: the server starts, and a reviewer approves and the
assistant applies a proposal as usual."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from mopsgate.governance.audit_query import AuditQuery
from mopsgate.governance.change_model import ChangeStatus, utcnow
from mopsgate.governance.ports import PROPOSAL_ROW_GRACE
from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings, ensure_home
from mopsgate.storage import audit_reader, open_storage
from tests.conftest import text_of
from tests.governance.change_factory import change
from tests.server.e2e_support import approve
from tests.server.test_changes_kit import MK, apply, ok, people, propose_titles
from tests.server.test_readonly_database import APP_ROLE, _admin, app_role_url  # noqa: F401
from tests.storage.server_settings import backend_settings

S = ChangeStatus


@pytest.fixture
def settings(
    tmp_path: Path,
    manifest_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Settings:
    case = request.node.callspec.id if hasattr(request.node, "callspec") else "append-only"
    args = (request, tmp_path, manifest_path, monkeypatch)
    if case != "append-only":
        return backend_settings(*args, sqlite=case == "sqlite")
    url = request.getfixturevalue("app_role_url")  # the server's own role, not a superuser
    _admin(
        request.getfixturevalue("pg_url"),
        f"REVOKE SELECT, UPDATE, DELETE ON audit_log, audit_records FROM {APP_ROLE}",
    )
    assert url
    return backend_settings(*args, sqlite=False, url_fixture="app_role_url")


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
async def test_a_start_withdraws_what_a_dead_proposal_left_unaudited(
    connect, settings: Settings, engine: str
) -> None:
    ensure_home(settings)
    storage = await open_storage(settings.storage())
    try:
        left = change(requester="assistant", now=utcnow() - PROPOSAL_ROW_GRACE - timedelta(1))
        await storage.changes.insert(left, audited_after=True)
        fresh = await storage.changes.insert(
            change(requester="assistant", now=utcnow()), audited_after=True
        )
    finally:
        await storage.close()
    async with connect("assistant") as client:
        got = await ok(client, "get_change", change_id=left.id)
        assert got["status"] == "cancelled", got
        assert (await ok(client, "get_change", change_id=fresh.id))["status"] == "proposed"
    reader = audit_reader(settings.storage())
    rows = [r async for r in reader.query(AuditQuery(change_id=left.id))]
    assert (rows[0].kind, rows[0].principal) == ("recovery", "(system)")


async def test_an_append_only_audit_log_still_lets_changes_be_approved_and_applied(
    connect, runtime: Runtime, settings: Settings
) -> None:
    emu = runtime.connectors.emulator("marketo")
    idxs = people("subscribed", 2, start=250)
    async with connect("assistant") as client:
        plan = await propose_titles(client, MK, idxs)
        approve(settings, plan["change_id"])
        applied = await apply(client, plan)
        assert not applied.is_error, text_of(applied)
    assert {emu.person_fields(MK.native(i))["title"] for i in idxs} == {"Head of Refusals"}

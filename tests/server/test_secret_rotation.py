"""Rotating the confirmation-token secret does not strand approved changes, and the old secret
stops counting when its grace ends (catalogue T-18).

``mopsgate secret rotate`` keeps the replaced secret beside the new one with the end of its
grace (by default one change lifetime). A change approved before the rotation applies after a
restart; once the grace is over its token is refused as signed with a retired secret, nothing
is written, and the refusal is audited. No secret appears in any answer, row or message.
"""

from __future__ import annotations

import stat

from mcp import Client

from mopsgate.server.app import Runtime, build_runtime, build_server
from mopsgate.server.settings import Settings, previous_paths
from tests.conftest import audit_rows, text_of
from tests.server.e2e_support import VENDORS
from tests.server.test_changes_kit import apply, approved_titles, cli, last_refusal, people

V = VENDORS["hubspot"]


def _restarted(runtime: Runtime, settings: Settings) -> Runtime:
    """The same vendors and state directory, in a new server process's runtime."""
    emulators = {name: runtime.connectors.emulator(name) for name in VENDORS}
    return build_runtime(settings, env={}, emulators=emulators)


async def test_a_change_approved_before_a_rotation_applies_during_the_grace(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("hubspot")
    idxs = people("subscribed", 1, start=170)
    async with connect("assistant") as client:
        plan = await approved_titles(client, settings, V, idxs, "Rotated Safely")
    old = settings.secret_path.read_bytes()
    result = cli(settings, "secret", "rotate")
    assert result.exit_code == 0, result.output
    new = settings.secret_path.read_bytes()
    previous, until = previous_paths(settings.secret_path)
    assert new != old and previous.read_bytes() == old and until.exists()
    for path in (settings.secret_path, previous):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    server = build_server(
        _restarted(runtime, settings), transport="memory", resolve_principal=lambda _c: "assistant"
    )
    async with Client(server) as client:
        done = await apply(client, plan)
    assert not done.is_error, text_of(done)
    assert emu.person_fields(V.native(idxs[0]))[V.title_field] == "Rotated Safely"
    [row] = [r for r in audit_rows(settings) if r["tool"] == "secret rotate"]
    stored = b"".join(p.read_bytes() for p in settings.home.glob("mopsgate.db*"))
    assert old not in stored and new not in stored and "until" in str(row["result_summary"])


async def test_after_the_grace_a_token_of_the_old_secret_is_refused(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("hubspot")
    idxs = people("subscribed", 1, start=175)
    before = emu.person_fields(V.native(idxs[0]))[V.title_field]
    async with connect("assistant") as client:
        plan = await approved_titles(client, settings, V, idxs, "Too Late")
    assert cli(settings, "secret", "rotate", "--grace-hours", "0").exit_code == 0
    server = build_server(
        _restarted(runtime, settings), transport="memory", resolve_principal=lambda _c: "assistant"
    )
    async with Client(server) as client:
        refused = await apply(client, plan)
    text = text_of(refused)
    assert refused.is_error and "retired" in text and "propose" in text, text
    assert emu.person_fields(V.native(idxs[0]))[V.title_field] == before
    assert emu.core.write_requests == []
    row = last_refusal(settings)
    assert row["change_id"] == plan["change_id"] and row["error_code"] == "invalid_confirmation", (
        row
    )
    assert "retired" in str(row["result_summary"]), row

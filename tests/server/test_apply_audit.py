"""The audit log fills up while a change is applied (catalogue L-07).

The disk is full the way SQLite's own tkt2920 test makes it: ``PRAGMA max_page_count`` on the
audit writer's connection, then rows until no more fit. Full before the apply: nothing is tried
upstream and the change stays approved, so it applies once space is freed. Full at the instant
the vendor wrote (an emulator ``after_write`` hook): the write happened once and is in the
change's own account, the assistant is told its result is withheld — never that nothing
happened — and the change can never be applied a second time. The file stays sound throughout.
"""

from __future__ import annotations

import sqlite3
from typing import Any, cast

from mopsgate.governance.errors import AuditUnavailable
from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from mopsgate.storage import audit_reader
from tests.conftest import audit_rows, text_of
from tests.server.e2e_support import approve
from tests.server.test_changes_kit import MK, apply, ok, people, propose_titles
from tests.storage.events import allowed

NEW = "Written While The Disk Filled"
UNLIMITED = 1073741823


def _writer(runtime: Runtime) -> Any:
    return cast(Any, runtime.require_storage().audit)


async def fill_audit_disk(runtime: Runtime) -> None:
    """The audit writer may not grow the file, and every page it has is filled with rows."""
    audit = _writer(runtime)
    pages = await audit.db.call(lambda c: int(c.execute("PRAGMA page_count").fetchone()[0]))
    await audit.db.call(lambda c: c.execute(f"PRAGMA max_page_count = {pages}"))
    for size in (2000, 200, 0):  # big rows first, then smaller ones into what is left
        for _ in range(200):
            try:
                await audit.append(allowed(arguments={"pad": "x" * size}, result_summary=""))
            except AuditUnavailable as exc:
                assert "is full" in exc.message, exc.message
                break
        else:
            raise AssertionError("the audit log never filled up")


async def free_audit_disk(runtime: Runtime) -> None:
    await _writer(runtime).db.call(lambda c: c.execute(f"PRAGMA max_page_count = {UNLIMITED}"))


def _file_is_sound(settings: Settings) -> None:
    conn = sqlite3.connect(settings.db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


async def _verified(runtime: Runtime) -> Any:
    return await audit_reader(runtime.settings.storage()).verify()


async def test_disk_full_before_the_apply_writes_nothing_and_it_applies_after(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("marketo")
    idxs = people("subscribed", 2, start=300)
    async with connect("assistant") as client:
        plan = await propose_titles(client, MK, idxs, NEW)
        approve(settings, plan["change_id"])
        await fill_audit_disk(runtime)
        emu.core.reset_log()
        refused = await apply(client, plan)
        assert refused.is_error and text_of(refused).startswith("[audit_unavailable]")
        assert "is full" in text_of(refused), text_of(refused)
        assert emu.core.requests == []  # not even the re-read: the intent row comes first
        change = await runtime.require_services().store.require(plan["change_id"])
        assert change.status.value == "approved"
        await free_audit_disk(runtime)
        done = await apply(client, plan)
        assert not done.is_error, text_of(done)
        assert done.structured_content["status"] == "applied"
    assert len(emu.core.write_requests) == 1
    assert {emu.person_fields(MK.native(i))["title"] for i in idxs} == {NEW}
    applied = [r for r in audit_rows(settings) if r["tool"] == "apply_change"]
    assert [r["outcome"] for r in applied if r["kind"] == "tool_call"] == ["ok"]
    _file_is_sound(settings)
    assert (await _verified(runtime)).ok


async def test_disk_full_once_the_vendor_wrote_withholds_the_result_not_the_truth(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("marketo")
    idxs = people("subscribed", 2, start=320)

    async def disk_fills() -> None:
        emu.core.faults.after_write = None
        await fill_audit_disk(runtime)

    async with connect("assistant") as client:
        plan = await propose_titles(client, MK, idxs, NEW)
        approve(settings, plan["change_id"])
        emu.core.reset_log()
        emu.core.faults.after_write = disk_fills
        answer = await apply(client, plan)
        text = text_of(answer)
        assert answer.is_error and text.startswith("[audit_unavailable]"), text
        assert "was refused" not in text and "nothing was changed" not in text.lower(), text
        assert plan["change_id"] in text and "get_change" in text, text
        assert len(emu.core.write_requests) == 1
        await free_audit_disk(runtime)
        change = await ok(client, "get_change", change_id=plan["change_id"])
        assert change["status"] == "applied"
        assert sorted(change["outcome"]["written_refs"]) == sorted(MK.ref(i) for i in idxs)
        again = await apply(client, plan)
        assert again.is_error and "already been used" in text_of(again), text_of(again)
    assert len(emu.core.write_requests) == 1
    assert {emu.person_fields(MK.native(i))["title"] for i in idxs} == {NEW}
    rows = [
        (r["kind"], r["reason"])
        for r in audit_rows(settings)
        if r["change_id"] == plan["change_id"] and r["tool"] == "apply_change"
    ]
    assert rows[0] == ("change", "apply requested"), rows  # on record before the write
    _file_is_sound(settings)
    assert (await _verified(runtime)).ok

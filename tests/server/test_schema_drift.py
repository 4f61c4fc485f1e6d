"""Records that drifted from the vendor's schema are never used (catalogue U-12).

Each emulator bends the first record of a real answer (``sandbox/drift.py``): no id, the
opt-out flag as the text ``"no"`` instead of a boolean, the same record twice in one answer, or
a field nobody asked for. A plan whose fingerprint read drifted is not made (so there is
nothing to approve), an apply whose re-read drifted writes nothing, a read tool answers a clean
``[upstream_error]``; an unknown field is dropped and the read goes on. A vendor's kinds of
drift run one after another on one server, each with its own checks, naming it.
"""

from __future__ import annotations

from mopsgate.sandbox.drift import EXTRA
from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows, text_of
from tests.server.e2e_support import VENDORS
from tests.server.test_changes_kit import (
    apply,
    approved_titles,
    last_refusal,
    ok,
    people,
    propose_titles,
)
from tests.server.test_vendor_answers import READ, REREAD

SAID = {
    "no_id": "record without an id",
    "wrong_type": "as str where the schema has boolean",
    "duplicate": "twice",
}


async def test_a_plan_whose_read_drifted_is_never_made(
    connect, runtime: Runtime, settings: Settings
):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            v = VENDORS[vendor]
            emu = runtime.connectors.emulator(vendor)
            idxs = people("subscribed", 2, start=140)
            for kind in sorted(SAID):
                emu.core.faults.drift_kind = kind
                emu.core.faults.drift_on[REREAD[vendor]] = 1
                seen = len(audit_rows(settings))
                result = await client.call_tool(
                    "propose_update_person",
                    {
                        "refs": [v.ref(i) for i in idxs],
                        "fields": {v.title_field: "Drifted"},
                        "reason": "The user asked for this in the weekly MOPs sync",
                    },
                )
                text = text_of(result)
                assert result.is_error and text.startswith("[upstream_error]"), (kind, text)
                assert SAID[kind] in text and "Traceback" not in text, (kind, text)
                mine = await ok(client, "list_my_changes")
                assert mine["changes"] == [], kind  # nothing to approve
                assert emu.core.faults.drift_on[REREAD[vendor]] == 0, (
                    kind
                )  # the drifted one was read
                assert emu.core.write_requests == [], kind
                refusal = last_refusal(settings, "propose_update_person", since=seen)
                assert refusal["error_code"] == "upstream_error", kind


async def test_an_apply_whose_re_read_drifted_writes_nothing(
    connect, runtime: Runtime, settings: Settings
):
    """Each kind is a change of its own (the one before failed, wrote nothing, holds no
    lock). Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            v = VENDORS[vendor]
            emu = runtime.connectors.emulator(vendor)
            idxs = people("subscribed", 2, start=150)
            before = {i: emu.person_fields(v.native(i))[v.title_field] for i in idxs}
            for kind in sorted(SAID):
                plan = await approved_titles(client, settings, v, idxs, "Never On Drift")
                emu.core.faults.drift_kind = kind
                emu.core.faults.drift_on[REREAD[vendor]] = 1
                emu.core.reset_log()
                seen = len(audit_rows(settings))
                result = await apply(client, plan)
                assert result.is_error and SAID[kind] in text_of(result), (kind, text_of(result))
                assert emu.core.write_requests == [], kind
                assert {i: emu.person_fields(v.native(i))[v.title_field] for i in idxs} == before
                assert last_refusal(settings, since=seen)["change_id"] == plan["change_id"], kind


async def test_a_field_nobody_asked_for_is_dropped(connect, runtime: Runtime, settings: Settings):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            v = VENDORS[vendor]
            emu = runtime.connectors.emulator(vendor)
            emu.core.faults.drift_kind = "extra_field"
            emu.core.faults.drift_on[READ[vendor]] = 1
            person = await ok(client, "get_person", ref=v.ref(7))
            plan = await propose_titles(client, v, people("subscribed", 1, start=160))
            assert person["ref"] == v.ref(7) and EXTRA not in str(person)
            assert (
                emu.core.faults.drift_on[READ[vendor]] == 0
            )  # the drifted answer was the one read
            assert EXTRA not in str(plan)

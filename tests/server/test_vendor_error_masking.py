"""A vendor's error that echoes personal data or a credential is masked everywhere (catalogue
L-11).

Validation errors repeat what they refused: ``Invalid email jane.roe@acme-private.test`` or a
header with a bearer token. The emulators answer with such a message, in each vendor's own
envelope, on a read and on the write of an approved change; the assistant, the change record
and the audit log (the database and its WAL) only ever hold the masked forms.
"""

from __future__ import annotations

import json

from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows, text_of
from tests.server.e2e_support import VENDORS
from tests.server.test_changes_kit import apply, approved_titles, last_refusal, ok, people
from tests.server.test_vendor_answers import READ, UPDATE

EMAIL = "jane.roe@acme-private.test"
TOKEN = "Bearer 00Dx0000000abcD1EFGhijkLMNOPqrstu2345"
PHONE = "+1 415 555 0199"
MESSAGE = f"Invalid value {EMAIL} (call {PHONE}); request had Authorization: {TOKEN}"
RAW = (EMAIL, TOKEN.split(" ")[1], PHONE)


def _stored(settings: Settings) -> bytes:
    return b"".join(p.read_bytes() for p in settings.home.glob("mopsgate.db*"))


def _clean(text: str, *, shown: bool = True) -> None:
    for raw in RAW:
        assert raw not in text, text
    assert not shown or "j***@acme-private.test" in text, text


async def test_a_vendor_error_echoing_an_email_is_masked_on_a_read(
    connect, runtime: Runtime, settings: Settings
):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            seen = len(audit_rows(settings))
            v = VENDORS[vendor]
            emu = runtime.connectors.emulator(vendor)
            emu.core.faults.invalid_message = MESSAGE
            emu.core.faults.invalid_on[READ[vendor]] = 1
            result = await client.call_tool("get_person", {"ref": v.ref(7)})
            assert result.is_error
            _clean(text_of(result))
            row = last_refusal(settings, "get_person", since=seen)
            _clean(json.dumps(row))
            assert row["upstream_calls"] >= 1
            for raw in RAW:
                assert raw.encode() not in _stored(settings)


async def test_a_vendor_error_echoing_an_email_is_masked_on_a_write(
    connect, runtime: Runtime, settings: Settings
):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            seen = len(audit_rows(settings))
            v = VENDORS[vendor]
            emu = runtime.connectors.emulator(vendor)
            idxs = people("subscribed", 2, start=120)
            before = {i: emu.person_fields(v.native(i))[v.title_field] for i in idxs}
            plan = await approved_titles(client, settings, v, idxs, "Echoed Error")
            emu.core.faults.invalid_message = MESSAGE
            emu.core.faults.invalid_on[UPDATE[vendor]] = 1
            result = await apply(client, plan)
            # a refusal of the whole call, or (HubSpot: the batch's 400 is about its records) an
            # answer whose records failed; either way nothing written and nothing raw shown
            _clean(text_of(result) + json.dumps(result.structured_content), shown=False)
            change = await ok(client, "get_change", change_id=plan["change_id"])
            assert change["status"] == "failed" and change["outcome"]["written"] == 0, change
            _clean(json.dumps(change))
            assert {i: emu.person_fields(v.native(i))[v.title_field] for i in idxs} == before
            rows = [
                r for r in audit_rows(settings)[seen:] if r.get("change_id") == plan["change_id"]
            ]
            assert rows and all(raw not in json.dumps(rows) for raw in RAW)
            for raw in RAW:
                assert raw.encode() not in _stored(settings)

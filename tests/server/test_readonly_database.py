"""The database turns read-only while the server runs (catalogue L-08).

The state directory's database and its WAL are made immutable (``chattr +i``: refused even to
root, and even through the descriptors the server already holds), as a remount read-only or a
revoked permission would. Every call fails closed — a read too, since it cannot be audited —
nothing reaches the vendor for a proposal, and the server works again once the files are
writable; the chain verifies.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from mopsgate.storage import audit_reader
from tests.conftest import audit_rows, text_of
from tests.server.e2e_support import VENDORS
from tests.server.test_changes_kit import REASON, people

V = VENDORS["marketo"]


@contextmanager
def immutable(paths: list[Path]) -> Iterator[None]:
    if shutil.which("chattr") is None:
        pytest.skip("chattr is not installed")
    done: list[Path] = []
    try:
        for path in paths:
            if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
                pytest.skip(f"this filesystem cannot make {path} immutable")
            done.append(path)
        yield
    finally:
        for path in done:
            subprocess.run(["chattr", "-i", str(path)], check=True)


async def test_a_database_made_read_only_after_start_fails_every_call_closed(
    connect, runtime: Runtime, settings: Settings
):
    emu = runtime.connectors.emulator("marketo")
    idxs = people("subscribed", 1, start=190)
    async with connect("assistant") as client:
        assert not (await client.call_tool("get_person", {"ref": V.ref(idxs[0])})).is_error
        files = sorted(p for p in settings.home.glob("mopsgate.db*") if not p.name.endswith("shm"))
        with immutable(files):
            read = await client.call_tool("get_person", {"ref": V.ref(idxs[0])})
            propose = await client.call_tool(
                "propose_update_person",
                {"refs": [V.ref(idxs[0])], "fields": {"title": "Read Only"}, "reason": REASON},
            )
        again = await client.call_tool("whoami", {})
    assert read.is_error and text_of(read).startswith("[audit_unavailable]"), text_of(read)
    assert read.structured_content is None  # no data handed out without its audit row
    assert propose.is_error, text_of(propose)
    assert emu.core.write_requests == []
    assert not again.is_error, text_of(again)
    assert [r["tool"] for r in audit_rows(settings)] == ["get_person", "whoami"]
    assert (await audit_reader(settings.storage()).verify()).ok

"""One writer of the persistent sandbox, as a process of its own, for
``test_persistent_store.py``: ``python -m tests.sandbox.store_writer HOME FIRST N`` opens the
store (seeding the file if it is the first), says it is ready (a ``ready-FIRST`` file in HOME),
waits for a ``go`` file there, then updates the titles of leads FIRST to FIRST+N-1, one call
each. The test forks it from the worker's fork server (``tests/support/cli_forks.py``)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from mopsgate.crm.records import PersonUpdate
from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.persist.store import SandboxStore
from mopsgate.sandbox.vendors import new_emulator, sandbox_client


async def main(home: Path, first: int, n: int) -> None:
    store = SandboxStore(home / "sandbox.db", people=60)
    client = sandbox_client("marketo", new_emulator("marketo", store))
    await client.get_person(mk.lead_ref(0))  # opens (and, first, seeds) the file
    (home / f"ready-{first}").touch()
    while not (home / "go").exists():
        time.sleep(0.01)
    for i in range(first, first + n):
        [done] = await client.update_people(
            [PersonUpdate(ref=mk.lead_ref(i), fields={"title": f"Writer {i}"})]
        )
        assert done.ok, done
    await client.aclose()
    await store.aclose()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))

"""One replica, as a separate process, for the tests that need several (``tests/server/
test_replicas.py``, ``tests/storage/test_replicas.py``): ``python -m tests.support.replica
<command> <json arguments>``; it prints one JSON line with what it saw, then exits.

- ``append {"url", "n"}``: ``n`` audit rows appended at once through the group-commit writer,
  each counted as a call of ``assistant``; prints their seqs.
- ``append-once {"db", "n"}``: ``n`` review rows appended one after another the way a CLI
  command appends its one row (``append_once``: open, append, close) to the SQLite file ``db``.
- ``apply {"settings", "change_id", "token", "n"}``: a whole mopsgate runtime on those settings
  (the database URL, the shared secret file, the manifest), and ``n`` concurrent
  ``apply_change`` calls of one change through the in-memory MCP client; prints each answer
  and the number of write requests its own HubSpot emulator received.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.storage import StorageConfig, open_storage


async def append(url: str, n: int) -> dict[str, Any]:
    storage = await open_storage(StorageConfig(url))
    try:
        event = AuditEvent(
            kind="tool_call", principal="assistant", tool="whoami", decision="allowed", outcome="ok"
        )
        records = await asyncio.gather(
            *(storage.audit.append(event, count_call=True) for _ in range(n))
        )
        return {"seqs": [r.seq for r in records]}
    finally:
        await storage.close()


def append_each_once(db: str, n: int) -> dict[str, Any]:
    from mopsgate.storage import append_once

    config = StorageConfig.sqlite(Path(db))
    for i in range(n):
        event = AuditEvent(kind="review", principal="bob", transport="cli", change_id=f"chg_{i}")
        asyncio.run(append_once(config, event))
    return {"appended": n}


async def apply(settings: dict[str, Any], change_id: str, token: str, n: int) -> dict[str, Any]:
    from mcp import Client

    from mopsgate.server.app import build_runtime, build_server
    from mopsgate.server.settings import Settings

    runtime = build_runtime(
        Settings(
            manifest_path=Path(settings["manifest_path"]),
            home=Path(settings["home"]),
            sandbox="memory",
            database_url=settings["database_url"],
            secret_file=Path(settings["secret_file"]),
        ),
        env={},
    )
    server = build_server(runtime, transport="memory", resolve_principal=lambda _ctx: "assistant")
    args = {"change_id": change_id, "confirmation_token": token}
    async with Client(server) as client:
        results = await asyncio.gather(*(client.call_tool("apply_change", args) for _ in range(n)))
    emulator = runtime.connectors.emulator("hubspot")
    return {
        "answers": [
            {"error": r.is_error, "text": r.content[0].text if r.content else ""}  # type: ignore[union-attr]
            for r in results
        ],
        "vendor_writes": len(emulator.core.write_requests),
    }


def main() -> None:
    command, raw = sys.argv[1], json.loads(sys.argv[2])
    if command == "append":
        out = asyncio.run(append(raw["url"], raw["n"]))
    elif command == "append-once":
        out = append_each_once(raw["db"], raw["n"])
    elif command == "apply":
        out = asyncio.run(apply(raw["settings"], raw["change_id"], raw["token"], raw["n"]))
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()

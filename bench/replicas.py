"""§7 Replicas (issue #12): governed calls/s over HTTP with 1, 2 and 4 replica processes on one
PostgreSQL database, against one process on SQLite, with the same clients and the same mix.

Each replica is ``bench.http_server`` (exactly the app ``mopsgate serve --transport http``
runs) with ``MOPSGATE_DATABASE_URL`` and one shared signing-secret file; client ``i`` talks to
replica ``i % k``, as a load balancer with session affinity would spread MCP sessions. The
PostgreSQL server is the tests' throwaway cluster (``tests/support/postgres.py``, started as
the ``postgres`` user when run as root), one fresh database per run brought to HEAD by
``mopsgate db upgrade``'s code. After each run: audit rows == calls, and the chain verifies.

Caveats, said in the table's notes: replicas, the database and the clients share this
machine's cores, so past the core count more replicas compete rather than add; the throwaway
cluster runs with ``fsync=off`` (SQLite keeps ``synchronous=FULL``): a real server's commit
flush comes on top.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg

from bench.common import BENCH_PRINCIPALS, child_env
from bench.servers import free_port, http_client, stop, wait_for_port
from bench.throughput import drive, mixed_reads, over_http

REPLICAS = (1, 2, 4)


@contextlib.asynccontextmanager
async def spawn_replicas(
    tmp: Path, manifest: Path, url: str, secret: Path, k: int
) -> AsyncIterator[list[str]]:
    env = child_env() | {"MOPSGATE_DATABASE_URL": url, "MOPSGATE_SIGNING_SECRET_FILE": str(secret)}
    procs: list[tuple[subprocess.Popen[bytes], int]] = []
    try:
        for i in range(k):
            port = free_port()
            home = tmp / f"replica-{k}-{i}"
            log = (tmp / f"replica-{k}-{i}.log").open("wb")
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.http_server", str(port), str(manifest), str(home)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
            log.close()
            procs.append((proc, port))
        for proc, port in procs:
            wait_for_port(proc, port)
        yield [f"http://127.0.0.1:{port}/mcp" for _, port in procs]
    finally:
        for proc, _ in procs:
            stop(proc)


async def on_postgres(
    tmp: Path, manifest: Path, url: str, secret: Path, k: int, clients: int, calls: int, warmup: int
) -> dict[str, Any]:
    from mopsgate.server.cli_token import create_token
    from mopsgate.storage import StorageConfig, audit_reader

    cfg = StorageConfig(url)
    tokens = [await create_token(cfg, p, "bench", None) for p in BENCH_PRINCIPALS[:clients]]
    async with (
        spawn_replicas(tmp, manifest, url, secret, k) as urls,
        contextlib.AsyncExitStack() as stack,
    ):
        conns = [
            await stack.enter_async_context(http_client(urls[i % k], tokens[i]))
            for i in range(clients)
        ]
        out = await drive(conns, mixed_reads(), calls, warmup)
    with psycopg.connect(url) as conn:
        found = conn.execute("SELECT count(*) FROM audit_log WHERE kind = 'tool_call'").fetchone()
    calls_rows = int(found[0]) if found is not None else 0
    verified = await audit_reader(cfg).verify()
    out.update(
        replicas=k,
        audit_rows=calls_rows,
        audit_rows_match=calls_rows == out["calls_incl_warmup"],
        chain_ok=verified.ok,
    )
    return out


async def run(
    tmp: Path, manifest: Path, *, clients: int, calls: int, warmup: int
) -> dict[str, Any]:
    from mopsgate.storage import StorageConfig, upgrade_schema
    from tests.support.postgres import PgServer, missing

    why = missing()
    if why is not None:
        return {"skipped": why}
    secret = tmp / "signing.key"
    secret.write_bytes(os.urandom(32))
    rows: dict[str, Any] = {}
    sqlite_home = tmp / "replicas-sqlite"
    rows["1 process, SQLite"] = await over_http(
        tmp, manifest, sqlite_home, clients, mixed_reads(), calls, warmup, governed=True
    )
    server = PgServer()
    try:
        for k in REPLICAS:
            url = server.url(server.create_database())
            await upgrade_schema(StorageConfig(url))
            rows[f"{k} replica{'s' if k > 1 else ''}, PostgreSQL"] = await on_postgres(
                tmp, manifest, url, secret, k, clients, calls, warmup
            )
    finally:
        server.close()
    return {
        "method": f"{clients} concurrent HTTP clients (bearer tokens, one MCP session each), "
        f"{calls} mixed governed reads each; client i on replica i % k",
        "rows": rows,
        "notes": [
            "Replicas, the PostgreSQL server and the clients share this machine's cores: one "
            "mopsgate process is held to about one core by its event loop, so a second replica "
            "can use another core; beyond the core count they compete with each other and with "
            "the database. On a loaded machine the figures are noisy; the audit columns are not.",
            "The throwaway PostgreSQL cluster runs with fsync=off; SQLite keeps "
            "synchronous=FULL. A production server's commit flush comes on top.",
        ],
    }


def report(s: dict[str, Any]) -> list[str]:
    from bench.report import _n, table

    if "skipped" in s:
        return ["## 7. Replicas on PostgreSQL", "", f"Skipped: {s['skipped']}", ""]
    rows = [
        [
            k,
            _n(v["calls_per_s"]),
            _n(v["p50_us"] / 1000, 1),
            _n(v["p99_us"] / 1000, 1),
            v["errors"],
            f"{_n(v['audit_rows_match'])} ({_n(v['audit_rows'])})",
            _n(v["chain_ok"]),
        ]
        for k, v in s["rows"].items()
    ]
    return [
        "## 7. Replicas on PostgreSQL",
        "",
        s["method"] + ".",
        "",
        *table(
            ["setup", "calls/s", "p50 ms", "p99 ms", "errors", "audit rows == calls", "chain"],
            rows,
        ),
        *[f"- {n}" for n in s["notes"]],
        "",
    ]

"""§2 Throughput: 16 concurrent clients doing mixed reads, governed vs bare, in-memory and HTTP.

In-memory: each governed client is its own session on one shared runtime (one audit writer,
one connector registry), as its own principal; the bare clients share one bare server over the
same kind of fast emulators. HTTP: the server runs in its own process under uvicorn on
127.0.0.1 (the governed one is ``build_http_app``, with a bearer token per client), the 16
clients share this process, as in the SDK reference method.
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
from mcp import Client

from bench.bare import build_bare_server, twin_context
from bench.common import (
    BENCH_PRINCIPALS,
    audit_counts,
    fast_client_options,
    fast_emulators,
    pct,
    summarize,
    violations,
)
from bench.overhead import VENDORS, person_refs
from bench.servers import http_client, spawn_http

TARGET_RATIO = 0.9  # governed / bare throughput, 16 concurrent clients (#15)
Mix = Callable[[int, int], tuple[str, dict[str, Any]]]


def mixed_reads() -> Mix:
    """get_person on each vendor, list_lists on each vendor, whoami: 7 reads in rotation."""
    refs = {v: person_refs(v) for v in VENDORS}
    calls: list[tuple[str, Any]] = [("get_person", v) for v in VENDORS]
    calls += [("list_lists", v) for v in VENDORS] + [("whoami", None)]

    def pick(client: int, j: int) -> tuple[str, dict[str, Any]]:
        tool, vendor = calls[(client + j) % len(calls)]
        if tool == "get_person":
            rs = refs[vendor]
            return tool, {"ref": rs[(client * 7 + j) % len(rs)]}
        if tool == "list_lists":
            return tool, {"connector": vendor, "limit": 20}
        return tool, {}

    return pick


def whoami_only() -> Mix:
    return lambda _c, _j: ("whoami", {})


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux ``/proc``); None where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


async def drive(
    clients: list[Client],
    mix: Mix,
    calls: int,
    warmup: int,
    server_cpu: Callable[[], float | None] | None = None,
) -> dict[str, Any]:
    """Warm each client up, then run them all at once; latency per call, wall time overall,
    and with ``server_cpu`` (a server process's CPU seconds so far) its CPU per measured call."""
    for i, client in enumerate(clients):
        for j in range(warmup):
            await client.call_tool(*mix(i, j))
    lat: list[float] = []
    errors = [0]

    async def worker(i: int, client: Client) -> None:
        for j in range(calls):
            tool, args = mix(i, j)
            t0 = time.perf_counter_ns()
            try:
                failed = bool((await client.call_tool(tool, args)).is_error)
            except Exception:
                failed = True
            lat.append((time.perf_counter_ns() - t0) / 1e3)
            errors[0] += failed

    cpu0 = server_cpu() if server_cpu is not None else None
    t0 = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for i, client in enumerate(clients):
            tg.start_soon(worker, i, client)
    wall = time.perf_counter() - t0
    cpu1 = server_cpu() if server_cpu is not None else None
    s = summarize(lat)
    out: dict[str, Any] = {}
    if cpu0 is not None and cpu1 is not None and lat:
        out["server_cpu_us_per_call"] = (cpu1 - cpu0) / len(lat) * 1e6
    return out | {
        "calls_per_s": len(lat) / wall,
        "p50_us": s["p50_us"],
        "p99_us": pct(lat, 99),
        "errors": errors[0],
        "calls": len(lat),
        "calls_incl_warmup": len(lat) + warmup * len(clients),
        "wall_s": wall,
    }


async def _check_audit(db_path: Path, expected: int) -> dict[str, Any]:
    from mopsgate.storage import StorageConfig, audit_reader

    rows = audit_counts(db_path).get("tool_call", 0)
    result = await audit_reader(StorageConfig.sqlite(db_path)).verify()
    return {"audit_rows": rows, "audit_rows_match": rows == expected, "chain_ok": result.ok}


@contextlib.contextmanager
def serving_collector() -> Iterator[None]:
    """While in-memory clients drive their servers, this process's garbage collector runs as
    the HTTP servers' do, and as ``mopsgate serve``'s does (``serve_run.serving_collector``):
    what is built by then frozen, young passes every 10,000 allocations. The same for the
    governed and the bare side; the previous settings come back after."""
    from mopsgate.server.serve_run import YOUNG_COLLECTION_THRESHOLD

    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def as_principal(principal: str) -> Callable[[Any], str]:
    return lambda _ctx: principal


async def inmem(
    manifest: Path,
    home: Path,
    n_clients: int,
    mix: Mix,
    calls: int,
    warmup: int,
    governed: bool,
    emulators: dict[str, Any] | None = None,
) -> dict[str, Any]:
    from mopsgate.server.app import build_runtime, build_server
    from mopsgate.server.settings import Settings

    emulators = emulators or fast_emulators()
    before = sum(violations(emulators).values())
    runtime = build_runtime(
        Settings(manifest, home, sandbox="memory"),
        env={},
        emulators=emulators,
        client_options=fast_client_options(),
    )
    servers: list[Any]
    if governed:
        servers = [
            build_server(runtime, transport="memory", resolve_principal=as_principal(p))
            for p in BENCH_PRINCIPALS[:n_clients]
        ]
    else:
        bare = build_bare_server(runtime.connectors, twin_context(manifest, runtime.connectors))
        servers = [bare] * n_clients
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(Client(s)) for s in servers]
        with serving_collector():
            out = await drive(clients, mix, calls, warmup)
    if governed:
        out.update(await _check_audit(runtime.settings.db_path, out["calls_incl_warmup"]))
    else:
        await runtime.connectors.aclose()
    out["rate_limit_violations"] = sum(violations(emulators).values()) - before
    return out


async def over_http(
    tmp: Path,
    manifest: Path,
    home: Path,
    n_clients: int,
    mix: Mix,
    calls: int,
    warmup: int,
    governed: bool,
) -> dict[str, Any]:
    from mopsgate.server.cli_token import create_token
    from mopsgate.server.settings import Settings, ensure_home

    settings = Settings(manifest, home, sandbox="memory")
    ensure_home(settings)
    tokens = [
        await create_token(settings.storage(), p, "bench", None)
        for p in BENCH_PRINCIPALS[:n_clients]
    ]
    pids: list[int] = []
    async with (
        spawn_http(tmp, manifest, home, governed, on_start=pids.append) as url,
        contextlib.AsyncExitStack() as stack,
    ):
        clients = [
            await stack.enter_async_context(http_client(url, tokens[i] if governed else None))
            for i in range(n_clients)
        ]
        out = await drive(clients, mix, calls, warmup, lambda: process_cpu_seconds(pids[0]))
    if governed:
        out.update(await _check_audit(settings.db_path, out["calls_incl_warmup"]))
    return out


def variants(calls: int, http_calls: int) -> list[tuple[str, str, bool, Mix, int]]:
    return [
        ("in-memory, mixed reads", "inmem", True, mixed_reads(), calls),
        ("in-memory, mixed reads", "inmem", False, mixed_reads(), calls),
        ("in-memory, whoami only", "inmem", True, whoami_only(), calls),
        ("in-memory, whoami only", "inmem", False, whoami_only(), calls),
        ("HTTP, mixed reads", "http", True, mixed_reads(), http_calls),
        ("HTTP, mixed reads", "http", False, mixed_reads(), http_calls),
    ]


async def run(
    tmp: Path, manifest: Path, *, clients: int, calls: int, http_calls: int, warmup: int, reps: int
) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {}
    for rep in range(reps):
        emulators = fast_emulators()  # shared by this rep's in-memory runs (reads only)
        for k, (name, kind, governed, mix, n) in enumerate(variants(calls, http_calls)):
            home = tmp / f"tp-{rep}-{k}"
            if kind == "inmem":
                out = await inmem(manifest, home, clients, mix, n, warmup, governed, emulators)
            else:
                out = await over_http(tmp, manifest, home, clients, mix, n, warmup, governed)
            label = f"{name} ({'governed' if governed else 'bare'})"
            runs.setdefault(label, []).append(out)
            print(
                f"  {label}: {out['calls_per_s']:.0f} calls/s, errors {out['errors']}", flush=True
            )
    comparisons = _comparisons(runs)
    return {
        "method": f"{clients} concurrent clients, {calls} calls each in-memory / {http_calls} "
        f"over HTTP (+{warmup} warm-up each), {reps} interleaved reps; median of reps; every "
        "server, in memory and over HTTP, with the garbage collector set as mopsgate serve "
        "sets it" + _server_cpu_note(comparisons),
        "rows": {label: _median_row(rs) for label, rs in runs.items()},
        "comparisons": comparisons,
    }


def _server_cpu_note(comparisons: list[dict[str, Any]]) -> str:
    """Over HTTP each server has a core of its own and is the bottleneck, so throughput tends
    to bare / governed CPU per call; that ratio moves far less with other load on the machine."""
    for c in comparisons:
        if "server_cpu_ratio" in c:
            return (
                f". Server process CPU per call over HTTP (user + system, measured calls only): "
                f"governed {c['governed_server_cpu_us']:,.0f} µs, bare "
                f"{c['bare_server_cpu_us']:,.0f} µs, bare / governed "
                f"{c['server_cpu_ratio']:.2f} (what the HTTP ratio tends to when the server is "
                "the bottleneck)"
            )
    return ""


def _median_row(rs: list[dict[str, Any]]) -> dict[str, Any]:
    import statistics

    row: dict[str, Any] = {
        k: statistics.median(r[k] for r in rs) for k in ("calls_per_s", "p50_us", "p99_us")
    }
    row["rep_calls_per_s"] = [r["calls_per_s"] for r in rs]
    if all("server_cpu_us_per_call" in r for r in rs):
        row["server_cpu_us_per_call"] = statistics.median(r["server_cpu_us_per_call"] for r in rs)
    row["errors"] = sum(r["errors"] for r in rs)
    row["calls"] = sum(r["calls"] for r in rs)
    if "audit_rows" in rs[0]:
        row["audit_rows_match"] = all(r["audit_rows_match"] for r in rs)
        row["chain_ok"] = all(r["chain_ok"] for r in rs)
        row["audit_rows"] = sum(r["audit_rows"] for r in rs)
    if "rate_limit_violations" in rs[0]:
        row["rate_limit_violations"] = sum(r["rate_limit_violations"] for r in rs)
    return row


def _comparisons(runs: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    import statistics

    out = []
    for name in ("in-memory, mixed reads", "in-memory, whoami only", "HTTP, mixed reads"):
        gov = statistics.median(r["calls_per_s"] for r in runs[f"{name} (governed)"])
        bare = statistics.median(r["calls_per_s"] for r in runs[f"{name} (bare)"])
        ratio = gov / bare if bare else float("nan")
        row: dict[str, Any] = {
            "name": name,
            "governed_calls_per_s": gov,
            "bare_calls_per_s": bare,
            "ratio": ratio,
            "target": f">= {TARGET_RATIO}x bare",
            "met": ratio >= TARGET_RATIO,
        }
        gov_runs, bare_runs = runs[f"{name} (governed)"], runs[f"{name} (bare)"]
        key = "server_cpu_us_per_call"
        if all(key in r for r in gov_runs + bare_runs):
            gov_cpu = statistics.median(float(r[key]) for r in gov_runs)
            bare_cpu = statistics.median(float(r[key]) for r in bare_runs)
            row["governed_server_cpu_us"] = gov_cpu
            row["bare_server_cpu_us"] = bare_cpu
            row["server_cpu_ratio"] = bare_cpu / gov_cpu if gov_cpu else float("nan")
        out.append(row)
    return out

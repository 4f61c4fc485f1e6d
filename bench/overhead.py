"""§1 Governance overhead: the same calls through the governed pipeline and a bare MCPServer.

Both servers are in-process, reached by the SDK's in-memory ``Client``, and share one connector
registry (same clients, same emulators). Calls are interleaved one by one, rotating the order
every round, so machine noise lands on both sides alike. The audit log is durable
(``synchronous=FULL``, which the audit writer refuses to run without).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

from mcp import Client

from bench.bare import build_bare_server, twin_context
from bench.common import (
    BENCH_PRINCIPALS,
    fast_client_options,
    fast_emulators,
    ratio,
    summarize,
    violations,
)

VENDORS = ("marketo", "hubspot", "salesforce")
TARGET_RATIO = 1.15
FLOOR = "durable commit (raw sqlite3, FULL, one thread hop)"
Variant = tuple[str, str, str, Any]  # label, side ("gov" | "bare"), tool, args or refs


def person_refs(vendor: str, n: int = 40) -> list[str]:
    from mopsgate.sandbox.hubspot import ids as hs
    from mopsgate.sandbox.marketo import ids as mk
    from mopsgate.sandbox.salesforce import ids as sf

    ref = {"marketo": mk.lead_ref, "hubspot": hs.person_ref, "salesforce": sf.person_ref}[vendor]
    return [ref(i) for i in range(10, 10 + n)]


def variants() -> list[Variant]:
    """(label, side, tool, args or per-round args factory)."""
    out: list[tuple[str, str, str, Any]] = [
        ("whoami (governed)", "gov", "whoami", {}),
        ("whoami (bare, same handler)", "bare", "whoami", {}),
        ("noop (bare SDK floor)", "bare", "noop", {}),
        (FLOOR, "floor", "commit", {}),
    ]
    for vendor in VENDORS:
        refs = person_refs(vendor)
        out.append((f"get_person {vendor} (governed)", "gov", "get_person", refs))
        out.append((f"get_person {vendor} (bare)", "bare", "get_person", refs))
    return out


def _args(spec: Any, i: int) -> dict[str, Any]:
    if isinstance(spec, list):
        return {"ref": spec[i % len(spec)]}
    return dict(spec)


class DurableCommit:
    """The floor under any call whose row must be durable before it answers: one raw sqlite3
    INSERT + COMMIT (WAL, ``synchronous=FULL``) on the same disk, on a worker thread as the
    audit writer's is, timed in the same rounds. On a shared disk an fsync costs anything from
    a few hundred microseconds to many milliseconds; this says which it was in this run."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS t (x TEXT)")

    def _commit(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute("INSERT INTO t VALUES (?)", ("x" * 200,))
        self.conn.execute("COMMIT")

    async def call_tool(self, _tool: str, _args: dict[str, Any]) -> Any:
        await asyncio.to_thread(self._commit)
        return _Committed()

    def close(self) -> None:
        self.conn.close()


class _Committed:
    is_error = False


async def _timed(client: Any, tool: str, args: dict[str, Any]) -> tuple[float, bool]:
    t0 = time.perf_counter_ns()
    result = await client.call_tool(tool, args)
    return (time.perf_counter_ns() - t0) / 1e3, bool(result.is_error)


async def one_rep(
    manifest: Path,
    home: Path,
    emulators: dict[str, Any],
    principal: str,
    n: int,
    warmup: int,
    specs: list[Variant],
) -> dict[str, Any]:
    from mopsgate.server.app import build_runtime, build_server
    from mopsgate.server.settings import Settings

    runtime = build_runtime(
        Settings(manifest, home, sandbox="memory"),
        env={},
        emulators=emulators,
        client_options=fast_client_options(),
    )
    gov = build_server(runtime, transport="memory", resolve_principal=lambda _: principal)
    bare = build_bare_server(runtime.connectors, twin_context(manifest, runtime.connectors))
    lat: dict[str, list[float]] = {label: [] for label, *_ in specs}
    errors = dict.fromkeys(lat, 0)
    floor = DurableCommit(home / "floor" / "commit.db")
    async with Client(gov) as g, Client(bare) as b:
        sides: dict[str, Any] = {"gov": g, "bare": b, "floor": floor}
        for i in range(warmup):
            for _, side, tool, spec in specs:
                await sides[side].call_tool(tool, _args(spec, i))
        for i in range(n):
            k = i % len(specs)
            for label, side, tool, spec in specs[k:] + specs[:k]:
                us, failed = await _timed(sides[side], tool, _args(spec, i))
                lat[label].append(us)
                errors[label] += failed
    floor.close()
    return {"lat": lat, "errors": errors}


async def run(tmp: Path, manifest: Path, *, n: int, warmup: int, reps: int) -> dict[str, Any]:
    out = await measure(
        tmp, manifest, fast_emulators(), variants(), n=n, warmup=warmup, reps=reps, name="overhead"
    )
    out["comparisons"] = comparisons(out["rows"])
    return out


async def measure(
    tmp: Path,
    manifest: Path,
    emulators: dict[str, Any],
    specs: list[Variant],
    *,
    n: int,
    warmup: int,
    reps: int,
    name: str,
) -> dict[str, Any]:
    """``reps`` fresh runtimes (fresh audit log), each ``n`` interleaved rounds of ``specs``."""
    pooled: dict[str, list[float]] = {}
    rep_p50: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    for rep in range(reps):
        out = await one_rep(
            manifest, tmp / f"{name}-{rep}", emulators, BENCH_PRINCIPALS[rep], n, warmup, specs
        )
        for label, xs in out["lat"].items():
            pooled.setdefault(label, []).extend(xs)
            rep_p50.setdefault(label, []).append(summarize(xs)["p50_us"])
            errors[label] = errors.get(label, 0) + out["errors"][label]
        print(f"  {name} rep {rep + 1}/{reps} done", flush=True)
    rows = {
        label: {**summarize(xs), "rep_p50_us": rep_p50[label], "errors": errors[label]}
        for label, xs in pooled.items()
    }
    return {
        "method": f"{reps} reps x {n} interleaved rounds (+{warmup} warm-up), in-memory Client, "
        "audit synchronous=FULL",
        "rows": rows,
        "rate_limit_violations": violations(emulators),
    }


def comparisons(
    rows: dict[str, dict[str, Any]], target: float = TARGET_RATIO
) -> list[dict[str, Any]]:
    """Each governed p50 against its bare twin's; only the ``get_person`` pairs have a target
    (the whoami pairs are there when measured, to show the pipeline's own cost)."""
    pairs = [
        (
            "pipeline only: whoami governed / same handler bare",
            "whoami (governed)",
            "whoami (bare, same handler)",
        ),
        ("whoami governed / bare no-op", "whoami (governed)", "noop (bare SDK floor)"),
    ]
    pairs = [p for p in pairs if p[1] in rows and p[2] in rows]
    for vendor in VENDORS:
        pairs.append(
            (
                f"get_person {vendor}: governed / bare",
                f"get_person {vendor} (governed)",
                f"get_person {vendor} (bare)",
            )
        )
    floor_us = rows[FLOOR]["p50_us"] if FLOOR in rows else None
    out = []
    for name, gov, bare in pairs:
        g, b = rows[gov], rows[bare]
        r50 = ratio(g["p50_us"], b["p50_us"])
        out.append(
            {
                # what the ratio would be if governance cost nothing but the durable commit
                # made after the call: the best a row written after the vendor answers allows
                "floor_ratio_p50": ratio(b["p50_us"] + floor_us, b["p50_us"])
                if floor_us is not None
                else None,
                "name": name,
                "governed_p50_us": g["p50_us"],
                "bare_p50_us": b["p50_us"],
                "added_p50_us": g["p50_us"] - b["p50_us"],
                "ratio_p50": r50,
                "ratio_p99": ratio(g["p99_us"], b["p99_us"]),
                "target": f"<= {target}" if name.startswith("get_person") else None,
                "met": r50 <= target if name.startswith("get_person") else None,
            }
        )
    return out

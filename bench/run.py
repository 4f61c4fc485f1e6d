"""Runs the sections in order and collects one results document."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import (
    audit,
    audit_query,
    latency,
    notify,
    overhead,
    profiling,
    replicas,
    startup,
    throughput,
)
from bench.common import child_env, machine_info, write_bench_manifest
from bench.targets import collect_targets

SECTIONS = (
    "overhead",
    "latency",
    "throughput",
    "audit",
    "audit_query",
    "bulk",
    "budget",
    "startup",
    "notify",
    "profiles",
    "replicas",
)
VENDORS = ("marketo", "hubspot", "salesforce")


@dataclass(frozen=True)
class Config:
    overhead_rounds: int = 300
    overhead_warmup: int = 30
    overhead_reps: int = 3
    latency_rounds: int = 40
    latency_warmup: int = 3
    latency_reps: int = 2
    clients: int = 16
    calls_per_client: int = 30
    http_calls_per_client: int = 15
    tp_warmup: int = 3
    tp_reps: int = 2
    audit_reps: int = 3
    audit_rows: int = 4000
    verify_rows: int = 1_000_000
    query_rows: int = 1_000_000
    queries: int = 30
    baseline_queries: int = 5
    bulk_sizes: tuple[int, ...] = (100, 1000, 10_000)
    bulk_vendors: tuple[str, ...] = VENDORS
    budget_sizes: tuple[int, ...] = (1000, 10_000)
    budget_vendors: tuple[str, ...] = (*VENDORS, "across")
    budget_people: int = 10_000
    startup_reps: int = 5  # launches vary by a second or more on a loaded machine
    profile_calls: int = 200
    profile_verify_rows: int = 50_000
    notify_calls: int = 40
    notify_warmup: int = 5
    notify_reps: int = 12


QUICK = Config(
    overhead_rounds=5,
    overhead_warmup=1,
    overhead_reps=1,
    latency_rounds=2,
    latency_warmup=1,
    latency_reps=1,
    clients=2,
    calls_per_client=3,
    http_calls_per_client=2,
    tp_warmup=1,
    tp_reps=1,
    audit_reps=1,
    audit_rows=40,
    verify_rows=500,
    query_rows=2000,
    queries=3,
    baseline_queries=2,
    bulk_sizes=(5,),
    bulk_vendors=("hubspot",),
    budget_sizes=(5,),
    budget_vendors=("marketo",),
    budget_people=60,
    startup_reps=1,
    profile_calls=5,
    profile_verify_rows=200,
    notify_calls=3,
    notify_warmup=1,
    notify_reps=1,
)

BULK_NOTES = [
    "Minimum calls: person reads at the vendor's batch-read cap (Marketo 300, HubSpot 100, "
    "Salesforce 200 per object), list member pages at the page cap (300 / 250 / 2000), writes "
    "at the batch-write cap (300 / 100 / 200), one describe per person object for updates, and "
    "one page per campaign listing for list adds (Marketo 2: programs and smart campaigns; "
    "HubSpot and Salesforce 1) to know whether the list feeds email sends, plus, on HubSpot, "
    "two asset reads (emails, lists) per campaign not shown inactive, since no HubSpot listing "
    "carries them. Apply re-reads "
    "only the records it writes. Auth token calls (made in warm-up) are excluded. "
    "Per-endpoint counts for every row are in latest.json.",
    "Upstream calls are the requests the emulator received; they equal the upstream_calls the "
    "audit row recorded for the same tool call (checked in latest.json). The calls target is "
    "checked per write kind in section 4b, against the minimum written down there.",
    "Emulators keep the vendors' default limits (Marketo 100 calls/20 s and 10 concurrent, "
    "HubSpot 100/10 s, Salesforce 15,000/24 h and 25 concurrent) and the connectors pace "
    "themselves client-side, so plan and apply times include that pacing.",
    "Peak RSS is the whole bench process (interpreter, SDK, one emulator holding 10,000 "
    "people, client and server) sampled every 2 ms; '+op' is the growth during the plan or "
    "apply itself. The 10,000-person runs are one pass per connector.",
]


def per_vendor(module: str, vendors: tuple[str, ...], *argv: str) -> list[Any]:
    """``python -m <module> VENDOR *argv`` for each vendor, one process each (so each
    connector's memory figures are its own); the last stdout line of each, parsed."""
    out = []
    for vendor in vendors:
        proc = subprocess.run(
            [sys.executable, "-m", module, vendor, *argv],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=child_env(),
            timeout=1800,
            check=True,
        )
        out.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return out


def run_bulk(tmp: Path, manifest: Path, cfg: Config) -> dict[str, Any]:
    sizes = ",".join(map(str, cfg.bulk_sizes))
    vendors = per_vendor("bench.bulk", cfg.bulk_vendors, sizes, str(manifest), str(tmp))
    return {
        "method": f"Sizes {sizes} on each connector, in-memory client, one process per "
        "connector; wall time per tool call.",
        "vendors": vendors,
        "notes": BULK_NOTES,
    }


BUDGET_NOTES = [
    "The minimum of each write kind is written down, with its reasoning, in "
    "bench/bulk_minimum.py: person reads at the vendor's batch-read cap per person object "
    "(Marketo 300, HubSpot 100, Salesforce 200), what the operation decides on (describe, "
    "list or campaign members, the campaign), the compliance floor's reads where they can "
    "change the answer, and writes at the vendor's batch cap for the operation (Marketo 300 "
    "and 100 per trigger, HubSpot 100, Salesforce 200). The data-dependent parts (who is "
    "blocked, whether the list feeds sends, campaign counts) are read by a client of its own "
    "before each call, outside the counted window.",
    "Emulators' rate windows are out of the way: call counts do not depend on pacing.",
    "propose_trigger_campaign takes at most 1,000 people, so triggers are measured at 1,000; "
    "a merge is a seeded duplicate pair, an archive one list (their sizes are fixed); a revert "
    "undoes the update just applied, a reassignment moves the busiest active owner's people.",
    "'across': propose_add_to_list_everywhere and propose_opt_out_everywhere of 200 people "
    "named by address (the tools' cap) on all three sandboxes in one runtime; calls summed over "
    "the emulators against the sum of each connector's minimum, whose plan part is the "
    "address lookup that finds the records (it returns them whole, and it is the floor's "
    "same-address lookup).",
    "A write kind a connector refused is reported as not measured, with the refusal.",
]


def run_budget(tmp: Path, manifest: Path, cfg: Config) -> dict[str, Any]:
    sizes = ",".join(map(str, cfg.budget_sizes))
    argv = (sizes, str(manifest), str(tmp), str(cfg.budget_people))
    vendors = per_vendor("bench.budget", cfg.budget_vendors, *argv)
    return {
        "method": f"Sizes {sizes} on each connector, every write kind it supports: propose, "
        "approve (signed, as the review console does), apply; calls the emulator received.",
        "vendors": vendors,
        "notes": BUDGET_NOTES,
    }


async def run_section(name: str, tmp: Path, manifest: Path, cfg: Config, out_dir: Path) -> Any:
    if name == "overhead":
        return await overhead.run(
            tmp,
            manifest,
            n=cfg.overhead_rounds,
            warmup=cfg.overhead_warmup,
            reps=cfg.overhead_reps,
        )
    if name == "latency":
        return await latency.run(
            tmp, manifest, n=cfg.latency_rounds, warmup=cfg.latency_warmup, reps=cfg.latency_reps
        )
    if name == "throughput":
        return await throughput.run(
            tmp,
            manifest,
            clients=cfg.clients,
            calls=cfg.calls_per_client,
            http_calls=cfg.http_calls_per_client,
            warmup=cfg.tp_warmup,
            reps=cfg.tp_reps,
        )
    if name == "audit":
        return await audit.run(
            tmp,
            reps=cfg.audit_reps,
            appenders=min(16, cfg.clients),
            rows=cfg.audit_rows,
            verify_rows=cfg.verify_rows,
        )
    if name == "audit_query":
        return await asyncio.to_thread(
            audit_query.run, tmp, cfg.query_rows, cfg.queries, cfg.baseline_queries
        )
    if name == "bulk":
        return await asyncio.to_thread(run_bulk, tmp, manifest, cfg)
    if name == "budget":
        return await asyncio.to_thread(run_budget, tmp, manifest, cfg)
    if name == "startup":
        return await startup.run(tmp, reps=cfg.startup_reps)
    if name == "replicas":
        return await replicas.run(
            tmp,
            manifest,
            clients=cfg.clients,
            calls=cfg.http_calls_per_client,
            warmup=cfg.tp_warmup,
        )
    if name == "notify":
        return await notify.run(
            tmp, manifest, n=cfg.notify_calls, warmup=cfg.notify_warmup, reps=cfg.notify_reps
        )
    out = await profiling.profile_governed_calls(tmp, manifest, cfg.profile_calls, out_dir)
    out |= await profiling.profile_concurrent(
        tmp, manifest, max(1, cfg.profile_calls // 40), out_dir
    )
    out["audit_verify"] = await asyncio.to_thread(
        profiling.profile_verify, tmp, cfg.profile_verify_rows, out_dir
    )
    return out


async def run_all(
    tmp: Path, cfg: Config, sections: tuple[str, ...], out_dir: Path
) -> dict[str, Any]:
    started = time.perf_counter()
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "load_average_at_start": os.getloadavg(),
        "config": cfg.__dict__,
    }
    manifest = write_bench_manifest(tmp / "manifest")
    for name in sections:
        t0 = time.perf_counter()
        print(f"[{name}] running", flush=True)
        results[name] = await run_section(name, tmp, manifest, cfg, out_dir)
        print(f"[{name}] done in {time.perf_counter() - t0:.0f} s", flush=True)
    results["duration_s"] = time.perf_counter() - started
    results["load_average_at_end"] = os.getloadavg()
    results["targets"] = collect_targets(results)
    return results

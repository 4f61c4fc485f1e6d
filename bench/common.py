"""Shared pieces of the benchmarks: statistics, the bench manifest, fast emulators, machine info.

Every figure is compared with a baseline measured in the same run, so nothing here holds a
reference number; it only builds the two sides of each comparison the same way.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_MANIFEST = ROOT / "permissions.toml"
MOPSGATE = str(Path(sys.executable).parent / "mopsgate")
HOST = "127.0.0.1"
# Principals the benchmarks call as: one per concurrent client, so each has its own call-rate
# window (the manifest caps calls_per_minute at 10,000 per principal).
BENCH_PRINCIPALS = tuple(f"bench-{i:02d}" for i in range(32))
UNLIMITED = 10**9
# The largest values the manifest model accepts.
MAX_CALLS_PER_MINUTE = 10_000
MAX_RECORDS_PER_HOUR = 1_000_000
MAX_RECORDS_PER_CHANGE = 10_000


# --- statistics ------------------------------------------------------------------------------


def pct(xs: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (same method as the reference bench_mcp.py)."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = min(len(s) - 1, max(0, round(p / 100 * (len(s) - 1))))
    return s[k]


def summarize(lat_us: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(lat_us),
        "p50_us": statistics.median(lat_us) if lat_us else float("nan"),
        "p99_us": pct(lat_us, 99),
        "mean_us": statistics.fmean(lat_us) if lat_us else float("nan"),
    }


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


# --- environment -----------------------------------------------------------------------------


def quiet() -> None:
    """Benchmarks measure calls, not log rendering: the SDK and httpx log every request at
    INFO, which would dominate an in-process call."""
    warnings.simplefilter("ignore")
    logging.basicConfig(level=logging.WARNING, force=True)
    for name in ("httpx", "httpx2", "mcp", "uvicorn", "uvicorn.access", "mopsgate"):
        logging.getLogger(name).setLevel(logging.WARNING)


def machine_info() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "mem_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "filesystem": _filesystem(),
        "git": _git_head(),
    }


def _filesystem() -> str:
    try:
        out = subprocess.run(
            ["df", "-T", tempfile.gettempdir()],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return " ".join(out.stdout.strip().splitlines()[-1].split()[:2])
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def _git_head() -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOPSGATE_")}
    env.update(extra)
    env.setdefault("PYTHONPATH", str(ROOT))
    return env


# --- the bench manifest ----------------------------------------------------------------------

_SUBSTITUTIONS = (
    (r"(calls_per_minute\s*=\s*)\d+", rf"\g<1>{MAX_CALLS_PER_MINUTE}"),
    (r"(records_per_hour\s*=\s*)\d+", rf"\g<1>{MAX_RECORDS_PER_HOUR}"),
    (r"(max_records_per_change\s*=\s*)\d+", rf"\g<1>{MAX_RECORDS_PER_CHANGE}"),
    (r"(records_over\s*=\s*)\d+", rf"\g<1>{MAX_RECORDS_PER_CHANGE}"),
    (r'principals\s*=\s*\["assistant"\]', "principals = [{everyone}]"),
)


# The bench's reviewers sign approvals with keys made for this run, declared only in the bench
# manifest: approvals take the same signed path as `mopsgate review approve`. The shipped
# manifest's two reviewers: a send needs both (one must be compliance), an opt-out compliance.
BENCH_REVIEWER = "mops-lead"
BENCH_REVIEWERS = (BENCH_REVIEWER, "compliance")


def bench_reviewer_key(reviewer: str = BENCH_REVIEWER) -> Any:
    """A bench reviewer's signing key: the same in every process, because the manifest that
    declares it is written by ``python -m bench`` and the bulk runs that sign with it are
    processes of their own (a key made per process signed approvals no manifest declared)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    seed = b"mopsgate bench reviewer, not a secret"
    if reviewer != BENCH_REVIEWER:
        seed += b" " + reviewer.encode()
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest())


def bench_manifest_text() -> str:
    """The shipped manifest with the caps raised for bulk runs and the bench principals
    added to every rule the assistant has. Fails loudly if the shipped file no longer has
    the keys we raise, rather than benchmarking the wrong limits."""
    text = SHIPPED_MANIFEST.read_text()
    everyone = ", ".join(f'"{p}"' for p in ("assistant", *BENCH_PRINCIPALS))
    for pattern, repl in _SUBSTITUTIONS:
        text, n = re.subn(pattern, repl.replace("{everyone}", everyone), text)
        if n == 0:
            raise RuntimeError(f"bench manifest: {pattern!r} not found in {SHIPPED_MANIFEST}")
    blocks = [
        f'\n[principals.{p}]\ndescription = "Benchmark client {p}."\n'
        f'use_cases = ["campaign-ops"]\n\n[principals.{p}.rate_limit]\n'
        f"calls_per_minute = {MAX_CALLS_PER_MINUTE}\n"
        f"records_per_hour = {MAX_RECORDS_PER_HOUR}\n"
        for p in BENCH_PRINCIPALS
    ]
    from mopsgate.governance.reviewer_keys import public_key_text

    for reviewer in BENCH_REVIEWERS:
        key = public_key_text(bench_reviewer_key(reviewer))
        blocks.append(f'\n[[reviewers.{reviewer}.keys]]\npublic_key = "{key}"\nlabel = "bench"\n')
    return text + "".join(blocks)


def write_bench_manifest(directory: Path) -> Path:
    """Write and validate the bench manifest; it must pass the same validator as any other."""
    from mopsgate.governance.manifest_load import check_manifest
    from mopsgate.server.catalogue import build_catalogue

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "permissions.toml"
    path.write_text(bench_manifest_text())
    problems = check_manifest(path, build_catalogue())
    if problems:
        raise RuntimeError("bench manifest is invalid: " + "; ".join(map(str, problems[:5])))
    return path


# --- emulators and clients with the vendors' limits raised -----------------------------------


def fast_emulators(n_people: int | None = None) -> dict[str, Any]:
    """Emulators whose rate windows are out of the way: the latency and throughput sections
    measure mopsgate, not the vendors' 100-calls-per-10-or-20-seconds budgets."""
    from mopsgate.sandbox.seed import seed_data

    seed = seed_data(n_people) if n_people else seed_data()
    return {v: fast_emulator(v, seed) for v in ("marketo", "hubspot", "salesforce")}


def fast_emulator(vendor: str, seed: Any) -> Any:
    """One vendor's emulator over ``seed`` with its rate windows out of the way."""
    from mopsgate.sandbox.hubspot.emulator import HubSpotEmulator
    from mopsgate.sandbox.marketo.emulator import MarketoEmulator
    from mopsgate.sandbox.salesforce.emulator import SalesforceEmulator

    if vendor == "marketo":
        marketo = MarketoEmulator(seed)
        marketo.set_rate_limit(UNLIMITED, 1.0)
        marketo.set_daily_quota(UNLIMITED)
        return marketo
    if vendor == "hubspot":
        hubspot = HubSpotEmulator(seed, ten_second_limit=UNLIMITED)
        hubspot.daily_limit = UNLIMITED
        hubspot.search_window.max_calls = UNLIMITED
        return hubspot
    return SalesforceEmulator(seed, daily_limit=UNLIMITED)


def fast_client_options() -> dict[str, Any]:
    """One client-side limiter out of the way; 8 in flight stays under every emulator's
    concurrency cap (Marketo's is 10)."""
    from mopsgate.connectors.http import RateLimiter

    return {"limiter": RateLimiter(UNLIMITED, 1.0, max_concurrent=8)}


def violations(emulators: dict[str, Any]) -> dict[str, int]:
    """Rate-limit refusals the emulators counted (window, search window, concurrency)."""
    out: dict[str, int] = {}
    for name, emu in emulators.items():
        core = emu.core
        n = core.window.violations + core.concurrency_violations
        search = getattr(emu, "search_window", None)
        if search is not None:
            n += search.violations
        out[name] = n
    return out


def audit_counts(db_path: Path) -> dict[str, int]:
    conn = sqlite3.connect(db_path)
    try:
        rows = conn.execute("SELECT kind, COUNT(*) FROM audit_log GROUP BY kind").fetchall()
    finally:
        conn.close()
    return {str(k): int(n) for k, n in rows}

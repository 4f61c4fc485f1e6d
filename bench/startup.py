"""§5 Start-up: from launching ``mopsgate serve --transport stdio`` to the first tools/list answer.

Both sides are started by the SDK's stdio client, the same way: a fresh interpreter each time,
timed from just before the process is spawned until ``list_tools`` returns (the handshake
included). The baseline is a bare ``MCPServer`` with one no-op tool (``bench/bare_stdio.py``).
One warm-up launch each fills the OS page cache and the bytecode cache (a pip-installed
mopsgate has compiled bytecode, so ``PYTHONDONTWRITEBYTECODE`` is dropped for the children).
A phase breakdown (imports, runtime, server) is measured in a separate interpreter, with the
garbage collector paused as ``mopsgate serve`` pauses it while it starts. Each launch's
CPU time (user + system of the server process, from the kernel's account of reaped children) is
kept beside its wall time: on a machine shared with other work the wall ratio moves with the
load, the CPU ratio much less.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from mcp import Client, StdioServerParameters

from bench.common import MOPSGATE, ROOT, SHIPPED_MANIFEST, child_env

TARGET_RATIO = 1.1  # governed / bare MCPServer, spawn to first tools/list (#15)


def _env(**extra: str) -> dict[str, str]:
    env = child_env(**extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def governed_params(manifest: Path, home: Path) -> StdioServerParameters:
    return StdioServerParameters(
        command=MOPSGATE,
        args=["serve", "--transport", "stdio", "--principal", "assistant"],
        env=_env(MOPSGATE_MANIFEST=str(manifest), MOPSGATE_HOME=str(home)),
        cwd=str(ROOT),
    )


def bare_params() -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "bench.bare_stdio"], env=_env(), cwd=str(ROOT)
    )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def time_to_tools_list(params: StdioServerParameters) -> tuple[float, int, float]:
    """Wall seconds to the first tools/list answer, tools listed, and the server process's CPU
    seconds over its whole life (start-up to the answer, then a prompt exit)."""
    cpu0 = _children_cpu()
    t0 = time.perf_counter()
    async with Client(params) as client:
        tools = await client.list_tools()
        elapsed = time.perf_counter() - t0
    await asyncio.sleep(0.05)  # the client has reaped the server; let the account settle
    return elapsed, len(tools.tools), _children_cpu() - cpu0


PHASES = """
import gc, json, sys, time
gc.disable()  # as the console script's serve does until it serves (server/cli.py)
t0 = time.perf_counter()
import mopsgate.server.serve_argv  # what the console script imports for serve
t1 = time.perf_counter()
from pathlib import Path
from mopsgate.server.settings import Settings, ensure_home
from mopsgate.storage import sqlite_start_status
settings = Settings(Path(sys.argv[1]), Path(sys.argv[2]))
ensure_home(settings)
sqlite_start_status(settings.storage())  # the write probe and the schema version, as serve does
t2 = time.perf_counter()
from mopsgate.server.app import build_runtime, build_server
t3 = time.perf_counter()
rt = build_runtime(settings, env={})
t4 = time.perf_counter()
build_server(rt, transport="stdio", resolve_principal=lambda _: "assistant")
t5 = time.perf_counter()
print(json.dumps({"import server.serve_argv": t1 - t0, "database checks": t2 - t1,
                  "import server.app": t3 - t2, "build_runtime (manifest load)": t4 - t3,
                  "build_server": t5 - t4}))
"""


def phases(manifest: Path, home: Path) -> dict[str, float]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", PHASES, str(manifest), str(home)],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
        cwd=str(ROOT),
        check=True,
    )
    total = time.perf_counter() - t0
    out: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["interpreter start + exit (rest)"] = total - sum(out.values())
    return out


def import_profile(top: int = 12) -> list[str]:
    """``python -X importtime``: the modules that cost the most to import, cumulative."""
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-c",
            "import gc; gc.disable(); import mopsgate.server.serve_argv, mopsgate.server.app",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
        cwd=str(ROOT),
        check=True,
    )
    rows = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    rows.sort(reverse=True)
    return [f"{us / 1000:7.0f} ms  {name}" for us, name in rows[:top]]


async def run(tmp: Path, *, reps: int) -> dict[str, Any]:
    manifest = tmp / "startup" / "permissions.toml"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(SHIPPED_MANIFEST, manifest)
    home = tmp / "startup" / "home"
    sides = {"mopsgate serve (governed)": governed_params(manifest, home), "bare MCPServer": None}
    times: dict[str, list[float]] = {k: [] for k in sides}
    cpu: dict[str, list[float]] = {k: [] for k in sides}
    tools: dict[str, int] = {}
    load = os.getloadavg()[0]
    for rep in range(reps + 1):  # rep 0 is the warm-up (and fills the state directory)
        for name, params in sides.items():
            elapsed, n_tools, cpu_s = await time_to_tools_list(params or bare_params())
            tools[name] = n_tools
            if rep:
                times[name].append(elapsed)
                cpu[name].append(cpu_s)
    rows = {
        k: {
            "median_s": statistics.median(v),
            "min_s": min(v),
            "max_s": max(v),
            "median_cpu_s": statistics.median(cpu[k]),
            "tools": tools[k],
        }
        for k, v in times.items()
    }
    gov, bare = (rows[k]["median_s"] for k in sides)
    gov_cpu, bare_cpu = (rows[k]["median_cpu_s"] for k in sides)
    return {
        "method": f"{reps} interleaved launches each after 1 warm-up, SDK stdio client, "
        "spawn to first tools/list answer",
        "rows": rows,
        "ratio": gov / bare,
        "ratio_cpu": gov_cpu / bare_cpu if bare_cpu else float("nan"),
        "added_s": gov - bare,
        "load": [load, os.getloadavg()[0]],
        "target": f"<= {TARGET_RATIO}x bare",
        "met": gov / bare <= TARGET_RATIO,
        "phases_s": phases(manifest, home),
        "import_time_top": import_profile(),
    }

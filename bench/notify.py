"""§6 Notifications: a dead webhook receiver never slows a tool call (#14).

The same tool call, a one-person ``propose_update_person`` (each one queues a review-request
notice with its audit row, which the sender fans out to two targets), is timed on three
runtimes in the same run:

- ``none``: no ``[notifications]`` (the sender still runs and drops the notices);
- ``refused``: two targets (Slack and JSON) on a loopback port nobody listens on;
- ``hanging``: the same two targets on a port that accepts connections and never answers, so
  every attempt holds a connection until the sender's 5 s timeout.

Each runtime has its own state directory and its sender runs in the background as in
``mopsgate serve``, retrying with its real backoff. Runtimes take turns in blocks (rotating the
order each repetition), each block opening its runtime, warming up and timing ``n`` calls, so
machine noise lands on every variant alike. The figure is the ratio of p50 latencies.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

from mcp import Client

from bench.common import fast_client_options, fast_emulators, ratio, summarize

VARIANTS = ("none", "refused", "hanging")
HOOK_ENV = "MOPSGATE_BENCH_HOOK_URL"
TARGETS = f"""
[notifications.targets.bench-slack]
format = "slack"
url_env = "{HOOK_ENV}"

[notifications.targets.bench-json]
format = "json"
url_env = "{HOOK_ENV}"
"""
TARGET_RATIO = 1.10


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Blackhole:
    """Accepts connections, reads what comes, never answers."""

    def __init__(self) -> None:
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._held: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            self._held.append(writer)
            while await reader.read(65536):
                pass

        self._server = await asyncio.start_server(hold, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        for writer in self._held:
            writer.close()
        if self._server is not None:
            self._server.close()


def _manifest(base: Path, variant: str, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "permissions.toml"
    text = base.read_text()
    path.write_text(text if variant == "none" else text + TARGETS)
    return path


def _refs(n: int) -> list[str]:
    from mopsgate.sandbox.marketo import ids as mk

    return [mk.lead_ref(i) for i in range(20, 20 + n)]


async def _block(
    runtime: Any, principal: str, refs: list[str], n: int, warmup: int, offset: int
) -> tuple[list[float], int]:
    from mopsgate.server.app import build_server

    server = build_server(runtime, transport="memory", resolve_principal=lambda _: principal)
    lat: list[float] = []
    errors = 0
    async with Client(server, raise_exceptions=True) as client:
        for i in range(warmup + n):
            args = {
                "refs": [refs[(offset + i) % len(refs)]],
                "fields": {"title": f"Bench title {offset + i}"},
                "reason": "benchmark: a notification for every proposal",
            }
            t0 = time.perf_counter_ns()
            result = await client.call_tool("propose_update_person", args)
            if i >= warmup:
                lat.append((time.perf_counter_ns() - t0) / 1e3)
                errors += bool(result.is_error)
    return lat, errors


async def run(
    tmp: Path, manifest: Path, *, n: int = 100, warmup: int = 5, reps: int = 3
) -> dict[str, Any]:
    from mopsgate.server.app import build_runtime
    from mopsgate.server.settings import Settings

    hole = Blackhole()
    hanging_port = await hole.start()
    hooks = {
        "none": "",
        "refused": f"http://127.0.0.1:{_free_port()}/hook",
        "hanging": f"http://127.0.0.1:{hanging_port}/hook",
    }
    emulators = fast_emulators()
    runtimes = {}
    for variant in VARIANTS:
        home = tmp / "notify" / variant
        runtimes[variant] = build_runtime(
            Settings(_manifest(manifest, variant, home), home / "state", sandbox="memory"),
            env={HOOK_ENV: hooks[variant]},
            emulators=emulators,
            client_options=fast_client_options(),
        )
    refs = _refs(200)
    lat: dict[str, list[float]] = {v: [] for v in VARIANTS}
    errors = dict.fromkeys(VARIANTS, 0)
    started = time.perf_counter()
    try:
        for rep in range(reps):
            order = VARIANTS[rep % 3 :] + VARIANTS[: rep % 3]
            for variant in order:
                got, bad = await _block(
                    runtimes[variant], "assistant", refs, n, warmup, rep * (n + warmup)
                )
                lat[variant] += got
                errors[variant] += bad
    finally:
        await hole.stop()
    rows = {v: {**summarize(lat[v]), "errors": errors[v]} for v in VARIANTS}
    comparisons = [
        {
            "name": f"propose_update_person p50, {v} receiver vs no notifications",
            "ratio_p50": ratio(rows[v]["p50_us"], rows["none"]["p50_us"]),
            "ratio_p99": ratio(rows[v]["p99_us"], rows["none"]["p99_us"]),
            "target": f"<= {TARGET_RATIO}",
            "met": ratio(rows[v]["p50_us"], rows["none"]["p50_us"]) <= TARGET_RATIO,
        }
        for v in ("refused", "hanging")
    ]
    return {
        "method": f"{reps} blocks of {n} calls (+{warmup} warm-up) per variant, rotating order; "
        "in-memory client; each runtime's sender in the background with its real backoff; "
        "two targets per notifying variant.",
        "rows": rows,
        "comparisons": comparisons,
        "hanging_connections": hole.connections,
        "duration_s": round(time.perf_counter() - started, 1),
    }

"""cProfile of the governed paths whose targets are missed, so the table says what limits them.

Profiles are written to ``bench/results/profile_*.txt`` (top entries by own time and by
cumulative time). cProfile slows Python down ~2x and counts each resumption of a coroutine as
a call, so read the shares, not the absolute times.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import re
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from mcp import Client

from bench.common import ROOT, fast_client_options, fast_emulators


def _strip(text: str) -> str:
    """Shorten paths so the table stays readable."""
    stdlib = str(Path(sys.base_prefix) / "lib" / "python3.11") + "/"
    for marker in (".venv/lib/python3.11/site-packages/", stdlib, str(ROOT) + "/"):
        text = text.replace(marker, "")
    return text


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


OURS = re.escape(str(ROOT)) + r"/(mopsgate/)?(server|governance|tools|connectors|storage)/"


def render(prof: cProfile.Profile, top: int) -> tuple[str, dict[str, list[str]]]:
    """Full text (by own time, by cumulative time, mopsgate's own functions by cumulative)
    and the short lists for the report."""
    parts, lines = [], {}
    views = (
        ("own time", "tottime", (top,)),
        ("cumulative time", "cumulative", (top,)),
        ("cumulative time, mopsgate code only", "cumulative", (OURS, top)),
    )
    for title, key, restrictions in views:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats(key).print_stats(*restrictions)
        text = _strip(buf.getvalue())
        parts.append(f"=== sorted by {title} ===\n{text}")
        lines[title] = _table_lines(text, 10)
    return "\n".join(parts), lines


def _table_lines(text: str, n: int) -> list[str]:
    out = []
    started = False
    for line in text.splitlines():
        if line.strip().startswith("ncalls"):
            started = True
            continue
        cols = line.split(None, 5)
        if started and len(cols) == 6:
            out.append(f"{cols[1]:>7}s own {cols[3]:>7}s cum  {cols[5]}")
        if len(out) >= n:
            break
    return out


async def profile(
    out_dir: Path,
    name: str,
    call: Callable[[int], Awaitable[Any]],
    n: int,
    top: int = 30,
    timer: Callable[[], float] | None = None,
) -> dict[str, Any]:
    prof = cProfile.Profile(timer) if timer is not None else cProfile.Profile()
    prof.enable()
    try:
        for i in range(n):
            await call(i)
    finally:
        prof.disable()
    text, lines = render(prof, top)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"profile_{name}.txt"
    what = "the event loop thread's CPU time" if timer is not None else "wall time"
    path.write_text(f"cProfile ({what}) of {n} rounds: {name}\n\n{text}")
    return {"file": _shown(path), "top": lines}


async def profile_governed_calls(
    tmp: Path, manifest: Path, n: int, out_dir: Path
) -> dict[str, Any]:
    """Governed whoami and get_person (hubspot), in-memory, like §1."""
    from bench.overhead import person_refs
    from mopsgate.server.app import build_runtime, build_server
    from mopsgate.server.settings import Settings

    runtime = build_runtime(
        Settings(manifest, tmp / "profile", sandbox="memory"),
        env={},
        emulators=fast_emulators(),
        client_options=fast_client_options(),
    )
    server = build_server(runtime, transport="memory", resolve_principal=lambda _: "bench-31")
    refs = person_refs("hubspot")
    out: dict[str, Any] = {}
    async with Client(server) as client:
        for i in range(50):
            await client.call_tool("whoami", {})
            await client.call_tool("get_person", {"ref": refs[i % len(refs)]})

        async def whoami(_: int) -> Any:
            return await client.call_tool("whoami", {})

        async def get_person(i: int) -> Any:
            return await client.call_tool("get_person", {"ref": refs[i % len(refs)]})

        out["governed_whoami"] = await profile(out_dir, "governed_whoami", whoami, n)
        out["governed_get_person"] = await profile(out_dir, "governed_get_person", get_person, n)
    return out


async def profile_concurrent(
    tmp: Path, manifest: Path, rounds: int, out_dir: Path
) -> dict[str, Any]:
    """§2's whoami-only workload (16 in-memory clients at once), governed and bare, by CPU time
    of the event loop thread: with the calls waiting on a shared commit, wall-clock shares are
    mostly idle time; CPU shares say what each call costs the loop (client side included,
    since the clients share this process)."""
    import contextlib

    from bench.bare import build_bare_server, twin_context
    from bench.common import BENCH_PRINCIPALS
    from bench.throughput import as_principal, drive, whoami_only
    from mopsgate.server.app import build_runtime, build_server
    from mopsgate.server.settings import Settings

    out: dict[str, Any] = {}
    for governed in (True, False):
        runtime = build_runtime(
            Settings(manifest, tmp / f"profile-tp-{governed}", sandbox="memory"),
            env={},
            emulators=fast_emulators(),
            client_options=fast_client_options(),
        )
        bare = build_bare_server(runtime.connectors, twin_context(manifest, runtime.connectors))
        servers = [
            build_server(runtime, transport="memory", resolve_principal=as_principal(p))
            if governed
            else bare
            for p in BENCH_PRINCIPALS[:16]
        ]
        async with contextlib.AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(Client(s)) for s in servers]
            await drive(clients, whoami_only(), 3, 0)

            async def burst(_: int, clients: list[Client] = clients) -> Any:
                return await drive(clients, whoami_only(), 10, 0)

            name = f"throughput_whoami_{'governed' if governed else 'bare'}"
            out[name] = await profile(out_dir, name, burst, rounds, timer=time.thread_time)
        if not governed:
            await runtime.connectors.aclose()
    return out


def profile_verify(tmp: Path, rows: int, out_dir: Path) -> dict[str, Any]:
    """One process's share of ``audit verify``: hashing and reading ``rows`` rows."""
    from bench.audit import build_chain
    from mopsgate.storage.sqlite.audit_read import _scan
    from mopsgate.storage.sqlite.readonly import read_in_place

    db = tmp / "verify-profile.db"
    build_chain(db, rows)
    prof = cProfile.Profile()
    prof.enable()
    segment = _scan(read_in_place(str(db)), 1, rows)
    prof.disable()
    db.unlink()
    if segment.bad_seq is not None:
        raise RuntimeError(f"verify profile: chain broken at {segment.bad_seq}")
    text, lines = render(prof, 20)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "profile_audit_verify.txt"
    path.write_text(f"cProfile of one verify worker over {rows} rows\n\n{text}")
    return {"file": _shown(path), "top": lines}

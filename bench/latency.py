"""§1b Realistic latency: ``get_person`` governed vs bare when every vendor answers after 100 ms.

A real vendor round trip takes tens to hundreds of milliseconds, not the ~2 ms of an in-process
emulator; here every emulator sleeps 100 ms before it answers (``Faults.slow_seconds``), so the
ratio is what governance adds to a call as an assistant meets it. Same method as §1: both
servers in-process, the SDK's in-memory ``Client``, calls interleaved round by round, the audit
row durable (``synchronous=FULL``) before the result is released.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import overhead
from bench.common import fast_emulators

SLOW_SECONDS = 0.1
TARGET_RATIO = 1.02


def slow_emulators() -> dict[str, Any]:
    """The §1 emulators (rate windows out of the way), each answering after ``SLOW_SECONDS``."""
    emulators = fast_emulators()
    for emulator in emulators.values():
        emulator.core.faults.slow_seconds = SLOW_SECONDS
    return emulators


async def run(tmp: Path, manifest: Path, *, n: int, warmup: int, reps: int) -> dict[str, Any]:
    specs = [v for v in overhead.variants() if v[2] in ("get_person", "commit")]
    out = await overhead.measure(
        tmp, manifest, slow_emulators(), specs, n=n, warmup=warmup, reps=reps, name="latency"
    )
    out["method"] = f"every emulator answers after {SLOW_SECONDS * 1000:.0f} ms; " + out["method"]
    out["comparisons"] = overhead.comparisons(out["rows"], target=TARGET_RATIO)
    return out

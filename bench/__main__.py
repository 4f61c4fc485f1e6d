"""``make bench`` / ``python -m bench``: run every benchmark, print the table, write
``bench/results/latest.json`` and ``latest.md``.

``--quick`` runs tiny sizes (a smoke run: the figures mean nothing); ``--only`` picks sections;
``--out`` writes elsewhere (the quick run never overwrites ``latest.*`` unless told to).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

from bench.common import quiet
from bench.report import render
from bench.run import QUICK, SECTIONS, Config, run_all

RESULTS = Path(__file__).resolve().parent / "results"


def parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    ap.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}"
    )
    ap.add_argument("--out", type=Path, default=None, help="results directory")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> Path:
    args = parse(argv)
    sections = tuple(s for s in args.only.split(",") if s)
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown section(s): {', '.join(sorted(unknown))}")
    out_dir = args.out or (RESULTS if not args.quick else Path(tempfile.mkdtemp()))
    quiet()
    cfg = QUICK if args.quick else Config()
    with tempfile.TemporaryDirectory(prefix="mopsgate-bench-") as tmp:
        results = asyncio.run(run_all(Path(tmp), cfg, sections, out_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "latest.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    markdown = render(results)
    (out_dir / "latest.md").write_text(markdown)
    print()
    print(markdown)
    print(f"written: {out_dir / 'latest.json'}, {out_dir / 'latest.md'}")
    return out_dir


if __name__ == "__main__":
    main()

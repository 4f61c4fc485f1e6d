"""Renders the results as markdown (printed and written to ``latest.md``)."""

from __future__ import annotations

from typing import Any


def _n(x: Any, digits: int = 0) -> str:
    if x is None:
        return "-"
    if isinstance(x, bool):
        return "yes" if x else "**no**"
    if isinstance(x, float):
        return f"{x:,.{digits}f}"
    return f"{x:,}" if isinstance(x, int) else str(x)


def _met(flag: Any) -> str:
    return "-" if flag is None else ("met" if flag else "**missed**")


def table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return [*out, ""]


def _load(values: Any) -> str:
    return "/".join(f"{v:.1f}" for v in values) if values else "?"


def machine(r: dict[str, Any]) -> list[str]:
    m = r["machine"]
    return [
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['mem_gib']} GiB RAM, Python {m['python']}, "
        f"SQLite {m['sqlite']}, {m['filesystem']} at /tmp, {m['platform']}. "
        f"Commit {m['git']}. Run took {r['duration_s']:.0f} s; load average (1/5/15 min) "
        f"{_load(r.get('load_average_at_start'))} at start, "
        f"{_load(r.get('load_average_at_end'))} at end (other work on the machine adds noise).",
        "",
    ]


def targets(r: dict[str, Any]) -> list[str]:
    rows = [[t["measure"], t["target"], t["result"], _met(t["met"])] for t in r["targets"]]
    return ["## Targets", "", *table(["measure", "target", "result", ""], rows)]


def overhead(
    s: dict[str, Any], title: str = "## 1. Governance overhead (in-memory, per call)"
) -> list[str]:
    rows = [
        [
            k,
            _n(v["p50_us"]),
            _n(v["p99_us"]),
            " / ".join(_n(x) for x in v["rep_p50_us"]),
            v["errors"],
        ]
        for k, v in s["rows"].items()
    ]
    comp = [
        [
            c["name"],
            _n(c["governed_p50_us"]),
            _n(c["bare_p50_us"]),
            _n(c["added_p50_us"]),
            _n(c["ratio_p50"], 2),
            _n(c["ratio_p99"], 2),
            c["target"] or "-",
            _met(c["met"]),
        ]
        for c in s["comparisons"]
    ]
    return [
        title,
        "",
        s["method"] + ".",
        "",
        *table(["call", "p50 µs", "p99 µs", "p50 per rep", "errors"], rows),
        *table(
            [
                "comparison",
                "governed p50 µs",
                "bare p50 µs",
                "added µs",
                "ratio p50",
                "ratio p99",
                "target",
                "",
            ],
            comp,
        ),
    ]


def latency(s: dict[str, Any]) -> list[str]:
    return overhead(s, "## 1b. Realistic latency (every vendor answers after 100 ms)")


def throughput(s: dict[str, Any]) -> list[str]:
    rows = []
    for k, v in s["rows"].items():
        audit = f"{_n(v['audit_rows_match'])} ({_n(v['audit_rows'])})" if "audit_rows" in v else "-"
        rows.append(
            [
                k,
                _n(v["calls_per_s"]),
                _n(v["p50_us"] / 1000, 1),
                _n(v["p99_us"] / 1000, 1),
                v["errors"],
                audit,
                _n(v["chain_ok"]) if "chain_ok" in v else "-",
            ]
        )
    comp = [
        [
            c["name"],
            _n(c["governed_calls_per_s"]),
            _n(c["bare_calls_per_s"]),
            _n(c["ratio"], 2),
            c["target"] or "-",
            _met(c["met"]),
        ]
        for c in s["comparisons"]
    ]
    return [
        "## 2. Throughput under concurrency",
        "",
        s["method"] + ".",
        "",
        *table(
            [
                "workload",
                "calls/s",
                "p50 ms",
                "p99 ms",
                "errors",
                "audit rows == calls",
                "chain verifies",
            ],
            rows,
        ),
        *table(
            ["workload", "governed calls/s", "bare calls/s", "governed / bare", "target", ""], comp
        ),
    ]


def audit(s: dict[str, Any]) -> list[str]:
    w, v = s["writer"], s["verify"]
    rows = [[k, _n(x)] for k, x in w["rows_per_s"].items()]
    ratios = [[k, _n(x, 2)] for k, x in w["ratios"].items()]
    return [
        "## 3. Audit log",
        "",
        w["method"] + ".",
        "",
        *table(["writer", "rows/s (median)"], rows),
        *table(["ratio", "value"], ratios),
        f"`mopsgate audit verify` on {_n(v['rows'])} rows ({_n(v['db_mb'])} MB, built in "
        f"{_n(v['build_s'], 1)} s): **{_n(v['verify_s'], 1)} s** (median of "
        f"{', '.join(_n(x, 1) for x in v['rep_verify_s'])}), target {v['target']}: "
        f"{_met(v['met'])}; output `{v['output']}`."
        + (
            f" CPU {_n(v['cpu_s'], 1)} s (the CLI and its forked checkers) on {v['cores']} "
            f"cores, load {v['load'][0]:.1f} at the start."
            if "cpu_s" in v
            else ""
        ),
        "",
    ]


def audit_query(s: dict[str, Any]) -> list[str]:
    cli = ", ".join(_n(x, 2) for x in s["cli_s"])
    return [
        "## 3b. Audit query by record",
        "",
        s["method"] + ".",
        "",
        *table(
            ["measure", "value"],
            [
                ["rows in the log", f"{_n(s['rows'])} ({_n(s['db_mb'])} MB)"],
                ["rows found per person (median)", _n(s["rows_found_median"])],
                [
                    "indexed query p50 / max",
                    f"{_n(s['query_p50_s'] * 1000, 1)} ms / {_n(s['query_max_s'] * 1000, 1)} ms",
                ],
                ["unindexed scan p50 (baseline)", f"{_n(s['scan_p50_s'], 2)} s"],
                ["scan / indexed", f"{_n(s['ratio_scan_over_indexed'])}x"],
                ["same rows as the scan", str(s["same_rows"])],
                ["`mopsgate audit query --record` wall, incl. interpreter start", f"{cli} s"],
            ],
        ),
        f"Target {s['target']}: {_met(s['met'])}.",
        "",
    ]


def _plan_apply_rows(s: dict[str, Any]) -> list[tuple[str, Any, Any, Any]]:
    """(connector, row, plan, apply) for every measured row of a per-connector section."""
    return [
        (v["vendor"], r, r["plan"], r["apply"])
        for v in s["vendors"]
        for r in v["rows"]
        if "error" not in r
    ]


def bulk(s: dict[str, Any]) -> list[str]:
    rows = []
    for vendor, r, p, a in _plan_apply_rows(s):
        rows.append(
            [
                vendor,
                _n(r["n"]),
                r["operation"],
                _n(p["s"], 2),
                f"{p['calls']} / {p['min']} = {p['ratio']:.2f}",
                _n(a["s"], 2),
                f"{a['calls']} / {a['min']} = {a['ratio']:.2f}",
                _n(r["written"]),
                f"{_n(max(p['rss_peak_mb'], a['rss_peak_mb']))} "
                f"(+{_n(max(p['rss_delta_mb'], a['rss_delta_mb']))})",
                r["rate_limit_violations"],
            ]
        )
    return [
        "## 4. Bulk plans and applies",
        "",
        s["method"],
        "",
        *table(
            [
                "connector",
                "people",
                "operation",
                "plan s",
                "plan calls / min",
                "apply s",
                "apply calls / min",
                "written",
                "peak RSS MB (+op)",
                "rate-limit violations",
            ],
            rows,
        ),
        *[f"- {note}" for note in s["notes"]],
        "",
    ]


def budget(s: dict[str, Any]) -> list[str]:
    rows = []
    for vendor, r, p, a in _plan_apply_rows(s):
        rows.append(
            [
                vendor,
                r["operation"],
                _n(r["n"]),
                f"{p['calls']} / {p['min']} = {p['ratio']:.2f}",
                f"{a['calls']} / {a['min']} = {a['ratio']:.2f}",
                _n(r["written"]),
                ", ".join(f"{k} {v}" for k, v in a["min_parts"].items()),
            ]
        )
    return [
        "## 4b. Upstream calls per write kind",
        "",
        s["method"],
        "",
        *[
            f"- {v['vendor']} {r['operation']}: not measured, {r['error']}"
            for v in s["vendors"]
            for r in v["rows"]
            if "error" in r
        ],
        *table(
            [
                "connector",
                "write kind",
                "records",
                "plan calls / min",
                "apply calls / min",
                "written",
                "apply minimum, by part",
            ],
            rows,
        ),
        *[f"- {note}" for note in s["notes"]],
        "",
    ]


def startup(s: dict[str, Any]) -> list[str]:
    rows = [
        [
            k,
            _n(v["median_s"], 2),
            f"{v['min_s']:.2f}–{v['max_s']:.2f}",
            _n(v.get("median_cpu_s", float("nan")), 2),
            v["tools"],
        ]
        for k, v in s["rows"].items()
    ]
    phases = [[k, _n(v * 1000)] for k, v in s["phases_s"].items()]
    return [
        "## 5. Start-up (stdio, launch to first tools/list answer)",
        "",
        s["method"] + ".",
        "",
        *table(["server", "median s", "range s", "median CPU s", "tools listed"], rows),
        f"Governed / bare: {s['ratio']:.2f} (+{s['added_s']:.2f} s); target {s['target']}: "
        f"{_met(s['met'])}."
        + (
            f" CPU governed / bare: {s['ratio_cpu']:.2f}; load {s['load'][0]:.1f} → "
            f"{s['load'][1]:.1f}."
            if "ratio_cpu" in s
            else ""
        ),
        "",
        *table(["phase (separate interpreter)", "ms"], phases),
        "Slowest imports (`python -X importtime`, cumulative):",
        "",
        "```",
        *s["import_time_top"],
        "```",
        "",
    ]


def notify(s: dict[str, Any]) -> list[str]:
    rows = [
        [k, _n(v["p50_us"]), _n(v["p99_us"]), _n(v["mean_us"]), v["errors"]]
        for k, v in s["rows"].items()
    ]
    comp = [
        [c["name"], _n(c["ratio_p50"], 2), _n(c["ratio_p99"], 2), c["target"], _met(c["met"])]
        for c in s["comparisons"]
    ]
    return [
        "## 6. Notifications: a dead receiver and the tool call",
        "",
        s["method"],
        "",
        *table(["receiver", "p50 µs", "p99 µs", "mean µs", "errors"], rows),
        *table(["comparison", "ratio p50", "ratio p99", "target", ""], comp),
        f"Connections the hanging receiver accepted (and never answered): "
        f"{s['hanging_connections']}.",
        "",
    ]


def profiles(p: dict[str, Any]) -> list[str]:
    out = [
        "## Profiles (cProfile; shares matter, not absolute times)",
        "",
        "`select.epoll.poll` is the event loop idle while the audit writer's SQLite thread "
        "commits (fsync) or the emulator answers.",
        "",
    ]
    for name, prof in p.items():
        out += [f"### {name}", "", f"Full output: `{prof['file']}`.", ""]
        for view, lines in prof["top"].items():
            if view != "cumulative time":  # mostly the harness's own frames; see the file
                out += [f"Top by {view}:", "", "```", *lines, "```", ""]
    return out


def replicas_report(s: dict[str, Any]) -> list[str]:
    from bench.replicas import report

    return report(s)


def render(r: dict[str, Any]) -> str:
    out = [f"# mopsgate benchmarks ({r['started']})", "", *machine(r)]
    out += targets(r)
    sections = (
        ("overhead", overhead),
        ("latency", latency),
        ("throughput", throughput),
        ("audit", audit),
        ("audit_query", audit_query),
        ("bulk", bulk),
        ("budget", budget),
        ("startup", startup),
        ("notify", notify),
        ("profiles", profiles),
        ("replicas", replicas_report),
    )
    for key, fn in sections:
        if key in r:
            out += fn(r[key])
    return "\n".join(out).rstrip() + "\n"

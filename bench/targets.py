"""The issue's targets, checked against one results document."""

from __future__ import annotations

from typing import Any

MEMORY_TARGET_MB = 200.0
CALLS_RATIO_TARGET = 1.05  # #15: every write kind, plan and apply


def _t(measure: str, target: str, result: str, met: bool | None) -> dict[str, Any]:
    return {"measure": measure, "target": target, "result": result, "met": met}


def overhead_targets(s: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _t(f"§1 {c['name']} (p50)", c["target"], _with_floor(c), c["met"])
        for c in s["comparisons"]
        if c["target"]
    ]


def _with_floor(c: dict[str, Any]) -> str:
    """The ratio, and the one a durable commit after the call would leave on its own."""
    floor = c.get("floor_ratio_p50")
    shown = f"{c['ratio_p50']:.2f}"
    return shown if floor is None else f"{shown} (bare + one durable commit: {floor:.2f})"


def latency_targets(s: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _t(
            f"§1b {c['name']}, vendor answering in 100 ms (p50)",
            c["target"],
            f"{c['ratio_p50']:.3f} (+{c['added_p50_us'] / 1000:.2f} ms; bare + one durable "
            f"commit: {c['floor_ratio_p50']:.3f})",
            c["met"],
        )
        for c in s["comparisons"]
        if c["target"]
    ]


def throughput_targets(s: dict[str, Any]) -> list[dict[str, Any]]:
    out = [
        _t(
            f"§2 governed {c['name']}",
            c["target"],
            f"{c['ratio']:.2f} ({c['governed_calls_per_s']:,.0f} vs {c['bare_calls_per_s']:,.0f} "
            "calls/s)",
            c["met"],
        )
        for c in s["comparisons"]
        if c["target"]
    ]
    rows = s["rows"].values()
    errors = sum(r["errors"] for r in rows)
    out.append(_t("§2 errors, all workloads", "0", str(errors), errors == 0))
    audited = [r for r in rows if "audit_rows_match" in r]
    out.append(
        _t(
            "§2 governed: audit rows == calls, chain verifies",
            "all",
            f"{sum(r['audit_rows_match'] and r['chain_ok'] for r in audited)}/{len(audited)}",
            all(r["audit_rows_match"] and r["chain_ok"] for r in audited),
        )
    )
    return out


def audit_targets(s: dict[str, Any]) -> list[dict[str, Any]]:
    v = s["verify"]
    cpu = (
        f", CPU {v['cpu_s']:.1f} s on {v['cores']} cores, load {v['load'][0]:.1f}"
        if "cpu_s" in v
        else ""
    )
    return [
        _t(
            f"§3 audit verify, {v['rows']:,} rows",
            v["target"],
            f"{v['verify_s']:.1f} s{cpu}",
            v["met"],
        )
    ]


def audit_query_targets(s: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _t(
            f"§3b audit query --record, {s['rows']:,} rows",
            s["target"],
            f"{s['query_p50_s'] * 1000:.1f} ms p50, {s['query_max_s'] * 1000:.1f} ms max "
            f"(unindexed scan {s['scan_p50_s']:.2f} s: {s['ratio_scan_over_indexed']:,.0f}x)",
            s["met"],
        )
    ]


def bulk_targets(s: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    violations = 0
    for vendor in s["vendors"]:
        rows = vendor["rows"]
        violations += sum(r["rate_limit_violations"] for r in rows)
        top = max(r["n"] for r in rows)
        big = [r for r in rows if r["n"] == top]
        parts = [r[k] for r in big for k in ("plan", "apply")]
        delta = max(p["rss_delta_mb"] for p in parts)
        peak = max(p["rss_peak_mb"] for p in parts)
        out.append(
            _t(
                f"§4 {vendor['vendor']} peak memory, {top:,} people",
                f"<= {MEMORY_TARGET_MB:.0f} MB",
                f"+{delta:.0f} MB during the op (process RSS peak {peak:.0f} MB)",
                delta <= MEMORY_TARGET_MB,
            )
        )
    out.append(_t("§4 rate-limit violations, all runs", "0", str(violations), violations == 0))
    return out


def budget_targets(s: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per connector and write kind: the worst ratio over sizes, plan and apply."""
    out = []
    for vendor in s["vendors"]:
        kinds: dict[str, list[dict[str, Any]]] = {}
        for r in vendor["rows"]:
            kinds.setdefault(r["operation"], []).append(r)
        for op, rows in kinds.items():
            if failed := [r for r in rows if "error" in r]:
                why = failed[0]["error"]
                out.append(
                    _t(
                        f"§4b {vendor['vendor']} {op}: upstream calls / batch minimum",
                        f"<= {CALLS_RATIO_TARGET}",
                        f"not measured: {why}",
                        None,
                    )
                )
                continue
            worst = max(max(r["plan"]["ratio"], r["apply"]["ratio"]) for r in rows)
            result = "; ".join(
                f"{r['n']:,}: plan {r['plan']['calls']}/{r['plan']['min']}, "
                f"apply {r['apply']['calls']}/{r['apply']['min']}"
                for r in rows
            )
            out.append(
                _t(
                    f"§4b {vendor['vendor']} {op}: upstream calls / batch minimum",
                    f"<= {CALLS_RATIO_TARGET}",
                    f"{worst:.3f} ({result})",
                    worst <= CALLS_RATIO_TARGET,
                )
            )
    return out


def startup_targets(s: dict[str, Any]) -> list[dict[str, Any]]:
    gov = s["rows"]["mopsgate serve (governed)"]["median_s"]
    bare = s["rows"]["bare MCPServer"]["median_s"]
    cpu = f"; CPU {s['ratio_cpu']:.2f}, load {s['load'][0]:.1f}" if "ratio_cpu" in s else ""
    return [
        _t(
            "§5 start-up to first tools/list",
            s["target"],
            f"{gov / bare:.2f} ({gov:.2f} s vs bare MCPServer {bare:.2f} s){cpu}",
            s["met"],
        )
    ]


def notify_targets(s: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        _t(f"§6 {c['name']}", c["target"], f"{c['ratio_p50']:.2f}", c["met"])
        for c in s["comparisons"]
    ]


def collect_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    checks = {
        "overhead": overhead_targets,
        "latency": latency_targets,
        "throughput": throughput_targets,
        "audit": audit_targets,
        "audit_query": audit_query_targets,
        "bulk": bulk_targets,
        "budget": budget_targets,
        "startup": startup_targets,
        "notify": notify_targets,
    }
    out: list[dict[str, Any]] = []
    for key, fn in checks.items():
        if key in results:
            out += fn(results[key])
    return out

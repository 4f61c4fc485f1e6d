"""The benchmark code runs (tiny sizes, in-process). No timing is asserted: ``make bench``
measures, ``make test`` only checks that the harness has not rotted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import audit, audit_query, bulk, bulk_minimum, latency, notify, overhead, throughput
from bench.common import BENCH_PRINCIPALS, write_bench_manifest
from bench.report import audit_query as render_audit_query_lines
from bench.report import budget as render_budget
from bench.report import render
from bench.targets import collect_targets


@pytest.fixture
def bench_manifest(tmp_path: Path) -> Path:
    return write_bench_manifest(tmp_path / "manifest")


def test_bench_manifest_passes_the_validator(bench_manifest: Path):
    text = bench_manifest.read_text()
    assert "max_records_per_change = 10000" in text
    assert f"[principals.{BENCH_PRINCIPALS[-1]}]" in text


def test_minimum_calls_follow_the_batch_caps():
    refs = [f"salesforce:Lead:{i}" for i in range(450)] + ["salesforce:Contact:1"]
    # Leads: 3 queries of <=200, Contacts: 1; one describe per object.
    assert bulk_minimum.plan_minimum("salesforce", "update_fields", refs, 0) == 4 + 2
    hub = [f"hubspot:contact:{i}" for i in range(1000)]
    # 10 batch reads + 2 member pages (300 members, 250 per page) + 1 campaign listing.
    assert bulk_minimum.plan_minimum("hubspot", "add_to_list", hub, 300) == 13
    assert bulk_minimum.apply_minimum("hubspot", "add_to_list", hub, 300) == 23
    assert bulk_minimum.endpoint("GET", "/rest/v1/lists/1003/leads.json") == (
        "GET /rest/v1/lists/{id}/leads.json"
    )


async def test_overhead_throughput_audit_and_bulk_run(tmp_path: Path, bench_manifest: Path):
    results = {
        "started": "smoke",
        "duration_s": 0.0,
        "machine": {k: "x" for k in ("nproc", "cpu", "mem_gib", "python", "sqlite", "filesystem")}
        | {"platform": "x", "git": "x"},
    }
    over = await overhead.run(tmp_path, bench_manifest, n=2, warmup=1, reps=1)
    assert all(row["errors"] == 0 for row in over["rows"].values())
    results["overhead"] = over

    slow = await latency.run(tmp_path, bench_manifest, n=1, warmup=0, reps=1)
    assert all(row["errors"] == 0 for row in slow["rows"].values())
    assert [c["target"] for c in slow["comparisons"]] == [f"<= {latency.TARGET_RATIO}"] * 3
    results["latency"] = slow

    tp = await throughput.inmem(
        bench_manifest, tmp_path / "tp", 2, throughput.mixed_reads(), 3, 1, governed=True
    )
    assert tp["errors"] == 0 and tp["audit_rows_match"] and tp["chain_ok"]

    writer = await audit.writer_throughput(tmp_path, reps=1, appenders=2, rows=8)
    assert set(writer["ratios"]) and all(v > 0 for v in writer["rows_per_s"].values())
    verified = audit.verify_million(tmp_path, rows=50, reps=1)
    assert verified["ok"], verified["output"]
    results["audit"] = {"writer": writer, "verify": verified}

    vendor = await bulk.run_vendor("hubspot", [3], bench_manifest, tmp_path, people=50)
    for row in vendor["rows"]:
        assert row["status"] == "applied" and row["rate_limit_violations"] == 0
        assert row["plan"]["calls"] == row["plan"]["audited_calls"]
    results["bulk"] = {"method": "smoke", "vendors": [vendor], "notes": []}

    results["targets"] = collect_targets(results)
    markdown = render(results)
    assert "## 1. Governance overhead" in markdown and "## 4. Bulk" in markdown
    assert "## 1b. Realistic latency" in markdown
    assert any(t["measure"].startswith("§1b get_person") for t in collect_targets(results))


async def test_notify_section_runs(tmp_path: Path, bench_manifest: Path):
    out = await notify.run(tmp_path, bench_manifest, n=2, warmup=1, reps=1)
    assert set(out["rows"]) == {"none", "refused", "hanging"}
    assert all(row["errors"] == 0 and row["n"] == 2 for row in out["rows"].values())
    assert [c["name"].split(", ")[1] for c in out["comparisons"]] == [
        "refused receiver vs no notifications",
        "hanging receiver vs no notifications",
    ]


def test_audit_query_bench_finds_what_the_scan_finds(tmp_path: Path):
    # One query: each also times the real CLI as a process of its own (a second of CPU).
    section = audit_query.run(tmp_path, rows=1000, queries=1, baseline_queries=1, people=50)
    assert section["same_rows"] and section["rows_found_median"] > 0 and section["cli_ok"]
    assert "## 3b. Audit query by record" in render_audit_query(section)


def render_audit_query(section: dict[str, Any]) -> str:
    return "\n".join(render_audit_query_lines(section))


async def test_budget_section_runs_every_write_kind(tmp_path: Path, bench_manifest: Path):
    from bench import budget

    vendor = await budget.run_vendor("marketo", [5], bench_manifest, tmp_path, people=60)
    kinds = {row["operation"] for row in vendor["rows"]}
    assert kinds == {k.name for k in budget.KINDS}  # Marketo supports every one
    for row in vendor["rows"]:
        assert row["status"] == "applied", row
        for part in ("plan", "apply"):
            assert row[part]["calls"] == row[part]["audited_calls"]
            assert row[part]["min"] == sum(row[part]["min_parts"].values())
    results = {"budget": {"method": "smoke", "vendors": [vendor], "notes": []}}
    targets = collect_targets(results)
    assert len(targets) == len(kinds) and all(t["measure"].startswith("§4b") for t in targets)
    assert "## 4b. Upstream calls per write kind" in render_budget(results["budget"])[0]

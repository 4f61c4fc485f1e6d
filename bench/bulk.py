"""§4 Bulk plans and applies, one connector per process (so its memory figures are its own).

For each size: a fresh emulator (10,000 seeded people, the vendor's real default rate limits,
paced by the connector's own client-side limiter), a fresh runtime on the bench manifest, then
``propose_add_to_list`` → approve (the reviewer's code path) → ``apply_change``, and the same
for ``propose_update_person``. Upstream calls are what the emulator received (grouped by
endpoint), cross-checked with the ``upstream_calls`` the audit row recorded.

``python -m bench.bulk VENDOR SIZES MANIFEST TMP`` prints one JSON document.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sqlite3
import sys
import threading
import time
from pathlib import Path
from typing import Any

from mcp import Client

from bench import bulk_minimum as minimum
from bench.common import BENCH_REVIEWERS, bench_reviewer_key, quiet, violations

SEED_PEOPLE = 10_000
MEMORY_TARGET_MB = 200.0
RATIO_TARGET = 1.05
LIST_IDX = 3


class RssPeak:
    """Peak resident memory while the block runs, sampled from /proc every 2 ms."""

    def __init__(self) -> None:
        self.page = resource.getpagesize()
        self.before = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _rss(self) -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * self.page

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    def report(self) -> dict[str, float]:
        return {"rss_peak_mb": self.peak / 1e6, "rss_delta_mb": (self.peak - self.before) / 1e6}


def vendor_facts(vendor: str) -> dict[str, Any]:
    from mopsgate.sandbox.hubspot import ids as hs
    from mopsgate.sandbox.marketo import ids as mk
    from mopsgate.sandbox.salesforce import ids as sf

    return {
        "marketo": {"ref": mk.lead_ref, "list": (mk.list_ref, mk.list_id), "title": "title"},
        "hubspot": {"ref": hs.person_ref, "list": (hs.list_ref, hs.list_id), "title": "jobtitle"},
        "salesforce": {"ref": sf.person_ref, "list": (sf.list_ref, sf.list_id), "title": "Title"},
    }[vendor]


def make_emulator(vendor: str, people: int = SEED_PEOPLE) -> Any:
    """Default limits: Marketo 100 calls/20 s and 10 concurrent, HubSpot 100/10 s (Free and
    Starter tiers), Salesforce 15,000 calls/24 h and 25 concurrent."""
    from mopsgate.sandbox.hubspot.emulator import HubSpotEmulator
    from mopsgate.sandbox.marketo.emulator import MarketoEmulator
    from mopsgate.sandbox.salesforce.emulator import SalesforceEmulator
    from mopsgate.sandbox.seed import seed_data

    classes = {
        "marketo": MarketoEmulator,
        "hubspot": HubSpotEmulator,
        "salesforce": SalesforceEmulator,
    }
    return classes[vendor](seed_data(people))


def open_campaigns(vendor: str, emu: Any) -> int:
    """Campaigns whose listing does not show them inactive (what the send-list scan must look
    into); counted where the minimum charges per campaign (``bulk_minimum.CAMPAIGN_READS``)."""
    if vendor != "hubspot":
        return 0
    from mopsgate.connectors.hubspot.mapping import ACTIVE_CAMPAIGN_STATUSES

    return sum(
        1 for c in emu.state.campaigns() if not c.status or c.status in ACTIVE_CAMPAIGN_STATUSES
    )


async def timed_call(client: Client, emu: Any, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    first = len(emu.core.requests)
    with RssPeak() as mem:
        t0 = time.perf_counter()
        result = await client.call_tool(tool, args)
        elapsed = time.perf_counter() - t0
    if result.is_error:
        raise RuntimeError(f"{tool} failed: {result.content[0].text[:400]}")  # type: ignore[union-attr]
    requests = emu.core.requests[first:]
    return {
        "s": elapsed,
        **mem.report(),
        "calls": len(requests),
        "endpoints": minimum.breakdown(requests),
        "result": result.structured_content,
    }


async def approve_change(db_path: Path, manifest: Any, change_id: str) -> list[str]:
    """The reviewers' approvals (what ``mopsgate review approve`` runs, from a storage of its
    own as the CLI's would be), one reviewer after the other until the change is approved (a
    send needs two, one of them compliance); returns the refs the apply will write."""
    from mopsgate.governance.approvals import approve
    from mopsgate.governance.change_model import ChangeStatus, utcnow
    from mopsgate.governance.decision_statement import new_statement
    from mopsgate.governance.errors import NotPermitted
    from mopsgate.governance.manifest_load import manifest_digest
    from mopsgate.governance.reviewer_keys import sign
    from mopsgate.storage import StorageConfig, open_storage

    storage = await open_storage(StorageConfig.sqlite(db_path))
    try:
        change = await storage.changes.require(change_id)
        for reviewer in BENCH_REVIEWERS:
            if change.status is not ChangeStatus.PROPOSED:
                break
            statement = new_statement(
                change_id=change_id,
                plan_digest=change.plan_digest,
                manifest_digest=manifest_digest(manifest),
                decision="approve",
                reviewer=reviewer,
                note="bench",
                checklist={},
                at=utcnow(),
            )
            try:
                change = await approve(
                    storage.changes, manifest, sign(statement, bench_reviewer_key(reviewer))
                )
            except NotPermitted:  # not this reviewer's risk class (an opt-out: compliance)
                continue
    finally:
        await storage.close()
    return [r.ref for r in change.plan.effective_records]


def audited_calls(db_path: Path, change_id: str) -> dict[str, int]:
    conn = sqlite3.connect(db_path)
    try:
        rows = conn.execute(
            "SELECT tool, upstream_calls FROM audit_log WHERE kind='tool_call' AND change_id=?",
            (change_id,),
        ).fetchall()
    finally:
        conn.close()
    return {str(tool): int(n) for tool, n in rows}


def proposal(vendor: str, op: str, n: int) -> tuple[str, dict[str, Any]]:
    facts = vendor_facts(vendor)
    refs = [facts["ref"](i) for i in range(n)]
    if op == "add_to_list":
        list_ref = facts["list"][0](LIST_IDX)
        return "propose_add_to_list", {
            "list_ref": list_ref,
            "person_refs": refs,
            "reason": f"benchmark: add {n} people to a list",
        }
    return "propose_update_person", {
        "refs": refs,
        "fields": {facts["title"]: f"Bench title {n}"},
        "reason": f"benchmark: update {n} job titles",
    }


async def one_op(client: Client, runtime: Any, emu: Any, vendor: str, op: str, n: int) -> Any:
    tool, args = proposal(vendor, op, n)
    refs = args.get("refs") or args["person_refs"]
    members = len(emu.list_member_ids(vendor_facts(vendor)["list"][1](LIST_IDX)))
    plan = await timed_call(client, emu, tool, args)
    change = plan.pop("result")
    db = runtime.settings.db_path
    written = await approve_change(db, runtime.holder.manifest, change["change_id"])
    apply_args = {
        "change_id": change["change_id"],
        "confirmation_token": change["confirmation_token"],
    }
    applied = await timed_call(client, emu, "apply_change", apply_args)
    status = applied.pop("result")["status"]
    audited = audited_calls(db, change["change_id"])
    campaigns = open_campaigns(vendor, emu)
    plan["min"] = minimum.plan_minimum(vendor, op, refs, members, campaigns)
    applied["min"] = minimum.apply_minimum(vendor, op, written, members, campaigns)
    plan["audited_calls"] = audited.get(tool)
    applied["audited_calls"] = audited.get("apply_change")
    for part in (plan, applied):
        part["ratio"] = part["calls"] / part["min"] if part["min"] else float("nan")
    return {
        "n": n,
        "operation": op,
        "status": status,
        "written": len(written),
        "list_members_before": members,
        "plan": plan,
        "apply": applied,
    }


async def one_size(
    vendor: str, n: int, manifest: Path, tmp: Path, people: int = SEED_PEOPLE
) -> list[dict[str, Any]]:
    from mopsgate.server.app import build_runtime, build_server
    from mopsgate.server.settings import Settings

    emu = make_emulator(vendor, people)
    runtime = build_runtime(
        Settings(manifest, tmp / f"bulk-{vendor}-{n}", sandbox="memory"),
        env={},
        emulators={vendor: emu},
    )
    server = build_server(runtime, transport="memory", resolve_principal=lambda _: "assistant")
    out = []
    async with Client(server) as client:
        await client.call_tool("get_person", {"ref": vendor_facts(vendor)["ref"](1)})  # auth
        for op in ("add_to_list", "update_fields"):
            row = await one_op(client, runtime, emu, vendor, op, n)
            row["rate_limit_violations"] = violations({vendor: emu})[vendor]
            out.append(row)
            print(
                f"  {vendor} {op} {n}: plan {row['plan']['s']:.2f} s, "
                f"apply {row['apply']['s']:.2f} s",
                file=sys.stderr,
                flush=True,
            )
    return out


async def run_vendor(
    vendor: str, sizes: list[int], manifest: Path, tmp: Path, *, people: int = SEED_PEOPLE
) -> dict[str, Any]:
    """``people``: the emulator's seed size (the smoke test's few-record runs need few)."""
    rows: list[dict[str, Any]] = []
    for n in sizes:
        rows += await one_size(vendor, n, manifest, tmp, people)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"vendor": vendor, "rows": rows, "process_peak_rss_mb": peak_kb * 1024 / 1e6}


def main(argv: list[str]) -> None:
    quiet()
    vendor, sizes = argv[0], [int(s) for s in argv[1].split(",")]
    result = asyncio.run(run_vendor(vendor, sizes, Path(argv[2]), Path(argv[3])))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])

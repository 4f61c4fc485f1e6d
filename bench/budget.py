"""§4b Upstream calls per write kind: every proposal tool a connector supports, planned,
approved and applied at 1,000 and 10,000 records, its vendor calls against the batch minimum.

Call counts do not depend on pacing, so the emulators' rate windows are out of the way (the
bulk section keeps them and measures time and memory). One process per connector; a fresh
emulator (10,000 seeded people) per size, the kinds run in an order where no kind's writes
change what a later one must read (the opt-out last). Each figure is the requests the emulator
received during the tool call, and is cross-checked with the audit row's ``upstream_calls``.

What the minimum needs to know about the data (who the floor blocks, whether the list feeds
sends, what the same-address lookup costs at the vendor's caps, how many campaigns there are)
is read before each call by a separate client of its own (``bulk_minimum.Facts``), outside the
counted window, so no cache of the measured client is warmed by it.

``python -m bench.budget VENDOR SIZES MANIFEST TMP [PEOPLE]`` prints one JSON document.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcp import Client

from bench import bulk_minimum as minimum
from bench.bulk import approve_change, audited_calls, vendor_facts
from bench.common import fast_client_options, fast_emulator, quiet

SEED_PEOPLE = 10_000
SIZES = (1000, 10_000)
LIST_IDX = 3
TRIGGER_MAX = 1000  # propose_trigger_campaign takes at most 1,000 people


@dataclass(frozen=True)
class Kind:
    """One write kind: the operation its plan records, and the proposal tool that makes it."""

    operation: str
    tool: str
    max_n: int | None = None


KINDS = (
    Kind("update_fields", "propose_update_person"),
    Kind("add_to_list", "propose_add_to_list"),
    Kind("remove_from_list", "propose_remove_from_list"),
    Kind("set_campaign_status", "propose_set_campaign_status"),
    Kind("trigger_campaign", "propose_trigger_campaign", TRIGGER_MAX),
    Kind("opt_out", "propose_opt_out"),
)


def supported(vendor: str, kind: Kind) -> bool:
    from mopsgate.connectors.capabilities import capabilities_of

    caps = capabilities_of(vendor)
    return {
        "trigger_campaign": caps.can_trigger,
        "set_campaign_status": caps.can_set_campaign_status,
    }.get(kind.operation, True)


class Bench:
    """One connector, one size: a runtime on a fresh emulator, an in-memory MCP client."""

    def __init__(self, vendor: str, n: int, emu: Any, runtime: Any, client: Client) -> None:
        self.vendor, self.n, self.emu, self.runtime, self.client = vendor, n, emu, runtime, client
        self.facts = vendor_facts(vendor)
        self.refs = [self.facts["ref"](i) for i in range(n)]
        self.list_ref = self.facts["list"][0](LIST_IDX)

    async def tool(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        result = await self.client.call_tool(name, args)
        if result.is_error:
            raise RuntimeError(f"{name} failed: {result.content[0].text[:400]}")  # type: ignore[union-attr]
        out: dict[str, Any] = dict(result.structured_content or {})
        return out

    async def counted(self, name: str, args: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        first = len(self.emu.core.requests)
        out = await self.tool(name, args)
        return out, self.emu.core.requests[first:]

    async def campaign(self, pick: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        cursor = None
        while True:
            args: dict[str, Any] = {"connector": self.vendor, "limit": 100}
            page = await self.tool("list_campaigns", args | ({"cursor": cursor} if cursor else {}))
            for c in page["items"]:
                if pick(c):
                    return dict(c)
            if not (cursor := page.get("next_cursor")):
                raise RuntimeError(f"no campaign on {self.vendor} fits the benchmark")

    async def args(self, kind: Kind, refs: list[str]) -> dict[str, Any]:
        reason = f"benchmark: {kind.operation} of {len(refs)} people"
        op = kind.operation
        if op == "update_fields":
            return {
                "refs": refs,
                "fields": {self.facts["title"]: f"Budget {self.n}"},
                "reason": reason,
            }
        if op in ("add_to_list", "remove_from_list"):
            return {"list_ref": self.list_ref, "person_refs": refs, "reason": reason}
        if op == "set_campaign_status":
            c = await self.campaign(lambda c: len(c.get("status_ladder") or []) > 1)
            ladder = sorted(c["status_ladder"], key=lambda s: s["step"])
            return {
                "campaign_ref": c["ref"],
                "person_refs": refs,
                "status": ladder[-1]["name"],
                "reason": reason,
            }
        if op == "trigger_campaign":
            c = await self.campaign(lambda c: bool(c.get("triggerable")))
            return {"campaign_ref": c["ref"], "person_refs": refs, "reason": reason}
        return {"connector": self.vendor, "person_refs": refs, "reason": reason}

    async def one(self, kind: Kind) -> dict[str, Any]:
        refs = self.refs[: kind.max_n] if kind.max_n else self.refs
        args = await self.args(kind, refs)
        facts = await minimum.read_facts(
            self.vendor, self.emu, self.runtime, kind.operation, args, refs
        )
        proposal, plan_requests = await self.counted(kind.tool, args)
        db = self.runtime.settings.db_path
        change_id = proposal["change_id"]
        written = await approve_change(db, self.runtime.holder.manifest, change_id)
        apply_facts = await minimum.read_facts(
            self.vendor, self.emu, self.runtime, kind.operation, args, written
        )
        applied, apply_requests = await self.counted(
            "apply_change",
            {"change_id": change_id, "confirmation_token": proposal["confirmation_token"]},
        )
        audited = audited_calls(db, change_id)
        plan_min = minimum.kind_minimum(self.vendor, kind.operation, "plan", refs, facts)
        apply_min = minimum.kind_minimum(self.vendor, kind.operation, "apply", written, apply_facts)
        return {
            "operation": kind.operation,
            "tool": kind.tool,
            "n": len(refs),
            "written": len(written),
            "status": applied.get("status"),
            "plan": part(plan_requests, plan_min, audited.get(kind.tool)),
            "apply": part(apply_requests, apply_min, audited.get("apply_change")),
            "facts": {"plan": facts.summary(), "apply": apply_facts.summary()},
        }


def part(requests: list[Any], least: minimum.Minimum, audited: int | None) -> dict[str, Any]:
    calls = len(requests)
    return {
        "calls": calls,
        "min": least.calls,
        "min_parts": least.parts,
        "ratio": calls / least.calls if least.calls else float("nan"),
        "audited_calls": audited,
        "endpoints": minimum.breakdown(requests),
    }


async def with_bench(
    vendor: str,
    n: int,
    manifest: Path,
    tmp: Path,
    people: int,
    body: Callable[[Bench], Awaitable[Any]],
) -> Any:
    from mopsgate.sandbox.seed import seed_data
    from mopsgate.server.app import build_runtime, build_server
    from mopsgate.server.settings import Settings

    emu = fast_emulator(vendor, seed_data(people))
    runtime = build_runtime(
        Settings(manifest, tmp / f"budget-{vendor}-{n}", sandbox="memory"),
        env={},
        emulators={vendor: emu},
        client_options=fast_client_options(),
    )
    server = build_server(runtime, transport="memory", resolve_principal=lambda _: "assistant")
    async with Client(server) as client:
        bench = Bench(vendor, n, emu, runtime, client)
        await bench.tool("get_person", {"ref": bench.refs[0]})  # auth, outside every count
        return await body(bench)


async def run_kinds(bench: Bench, kinds: tuple[Kind, ...], rows: list[dict[str, Any]]) -> None:
    for kind in kinds:
        if not supported(bench.vendor, kind):
            continue
        capped = kind.max_n is not None and bench.n > kind.max_n
        if capped and any(r["operation"] == kind.operation for r in rows):
            continue  # the tool's own cap: measured once, at it
        row = await bench.one(kind)
        rows.append(row)
        print(
            f"  {bench.vendor} {kind.operation} {row['n']}: plan {row['plan']['calls']}/"
            f"{row['plan']['min']}, apply {row['apply']['calls']}/{row['apply']['min']}",
            file=sys.stderr,
            flush=True,
        )


async def run_vendor(
    vendor: str,
    sizes: list[int],
    manifest: Path,
    tmp: Path,
    kinds: tuple[Kind, ...] = KINDS,
    people: int = SEED_PEOPLE,
) -> dict[str, Any]:
    """``people``: the emulator's seed size (the smoke test's few-record runs need few)."""
    rows: list[dict[str, Any]] = []
    for n in sizes:
        await with_bench(vendor, n, manifest, tmp, people, lambda b: run_kinds(b, kinds, rows))
    return {"vendor": vendor, "rows": rows}


def main(argv: list[str]) -> None:
    quiet()
    vendor, sizes = argv[0], [int(s) for s in argv[1].split(",")]
    people = int(argv[4]) if len(argv) > 4 else SEED_PEOPLE
    result = asyncio.run(run_vendor(vendor, sizes, Path(argv[2]), Path(argv[3]), people=people))
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])

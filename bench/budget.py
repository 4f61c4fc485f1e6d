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

``python -m bench.budget VENDOR SIZES MANIFEST TMP [PEOPLE]`` prints one JSON document
(VENDOR ``across``: the changes across connectors, 200 people, SIZES ignored).
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
    """One write kind: its name, the proposal tool that makes it, the operation its plan
    records (what the minimum is of), and its size when the tool fixes it."""

    name: str
    tool: str
    max_n: int | None = None
    plan_op: str = ""
    once: bool = False  # its size is the data's (an owner's people): measured at one size

    @property
    def operation(self) -> str:
        return self.plan_op or self.name


KINDS = (
    Kind("update_fields", "propose_update_person"),
    Kind("revert", "propose_revert", plan_op="update_fields"),  # of the update just applied
    Kind("reassign_owner", "propose_reassign_owner", plan_op="update_fields", once=True),
    Kind("add_to_list", "propose_add_to_list"),
    Kind("remove_from_list", "propose_remove_from_list"),
    Kind("set_campaign_status", "propose_set_campaign_status"),
    Kind("trigger_campaign", "propose_trigger_campaign", TRIGGER_MAX),
    Kind("merge_people", "propose_merge_people", 2),  # a survivor and its duplicate
    Kind("archive_list", "propose_archive_list", 1),
    Kind("opt_out", "propose_opt_out"),
)
ARCHIVED_LIST_IDX = 2  # "DO NOT DELETE FINAL v3": no active campaign sends to it


def supported(vendor: str, kind: Kind) -> bool:
    from mopsgate.connectors.capabilities import capabilities_of

    caps = capabilities_of(vendor)
    return {
        "trigger_campaign": caps.can_trigger,
        "set_campaign_status": caps.can_set_campaign_status,
        "merge_people": caps.can_merge,
    }.get(kind.name, True)


class Bench:
    """One connector, one size: a runtime on a fresh emulator, an in-memory MCP client."""

    def __init__(
        self, vendor: str, n: int, seed: Any, emu: Any, runtime: Any, client: Client
    ) -> None:
        self.vendor, self.n, self.seed = vendor, n, seed
        self.emu, self.runtime, self.client = emu, runtime, client
        self.facts = vendor_facts(vendor)
        self.refs = [self.facts["ref"](i) for i in range(n)]
        self.list_ref = self.facts["list"][0](LIST_IDX)
        self.applied: dict[str, str] = {}  # kind -> the change id it applied

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
        reason = f"benchmark: {kind.name} of {len(refs)} people"
        op = kind.name
        if op == "revert":
            return {"change_id": self.applied["update_fields"], "reason": reason}
        if op == "reassign_owner":
            # Marketo counts an owner's leads with a filter that refuses more than 1,000
            counts = self.vendor != "marketo"
            owners = (
                await self.tool("list_owners", {"connector": self.vendor, "record_counts": counts})
            )["owners"]
            active = sorted(
                (o for o in owners if o["active"]), key=lambda o: -(o["record_count"] or 0)
            )
            return {
                "connector": self.vendor,
                "from_owner": active[0]["ref"],
                "to_owner": active[1]["ref"],
                "reason": reason,
            }
        if op == "merge_people":  # a record the seed made as another's duplicate
            dup = next(p for p in self.seed.people if p.duplicate_of is not None)
            ref = self.facts["ref"]
            return {"survivor": ref(dup.duplicate_of), "losers": [ref(dup.idx)], "reason": reason}
        if op == "archive_list":
            return {"list_ref": self.facts["list"][0](ARCHIVED_LIST_IDX), "reason": reason}
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
        refs = _targets(kind, args, refs)
        facts = await self.facts_for(kind, args, refs)
        proposal, plan_requests = await self.counted(kind.tool, args)
        db = self.runtime.settings.db_path
        change_id = proposal["change_id"]
        written = await approve_change(db, self.runtime.holder.manifest, change_id)
        if not refs:  # found by the tool (a revert, a reassignment): what the plan holds
            refs = written
            facts = await self.facts_for(kind, args, refs)
        apply_facts = await self.facts_for(kind, args, written)
        applied, apply_requests = await self.counted(
            "apply_change",
            {"change_id": change_id, "confirmation_token": proposal["confirmation_token"]},
        )
        self.applied[kind.name] = change_id
        audited = audited_calls(db, change_id)
        plan_min = minimum.kind_minimum(self.vendor, kind.name, "plan", refs, facts)
        apply_min = minimum.kind_minimum(self.vendor, kind.name, "apply", written, apply_facts)
        return {
            "operation": kind.name,
            "tool": kind.tool,
            "n": len(refs),
            "written": len(written),
            "status": applied.get("status"),
            "plan": part(plan_requests, plan_min, audited.get(kind.tool)),
            "apply": part(apply_requests, apply_min, audited.get("apply_change")),
            "facts": {"plan": facts.summary(), "apply": apply_facts.summary()},
        }

    async def facts_for(self, kind: Kind, args: dict[str, Any], refs: list[str]) -> Any:
        return await minimum.read_facts(self.vendor, self.emu, self.runtime, kind.name, args, refs)


def _targets(kind: Kind, args: dict[str, Any], refs: list[str]) -> list[str]:
    """The records a proposal names (a merge: its survivor and losers; an archive: its list;
    a revert or a reassignment: found by the tool, known after the plan)."""
    if kind.name == "merge_people":
        return [args["survivor"], *args["losers"]]
    if kind.name == "archive_list":
        return [args["list_ref"]]
    if kind.name in ("revert", "reassign_owner"):
        return []
    return refs


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

    seed = seed_data(people)
    emu = fast_emulator(vendor, seed)
    runtime = build_runtime(
        Settings(manifest, tmp / f"budget-{vendor}-{n}", sandbox="memory"),
        env={},
        emulators={vendor: emu},
        client_options=fast_client_options(),
    )
    server = build_server(runtime, transport="memory", resolve_principal=lambda _: "assistant")
    async with Client(server) as client:
        bench = Bench(vendor, n, seed, emu, runtime, client)
        await bench.tool("get_person", {"ref": bench.refs[0]})  # auth, outside every count
        return await body(bench)


async def run_kinds(bench: Bench, kinds: tuple[Kind, ...], rows: list[dict[str, Any]]) -> None:
    for kind in kinds:
        if not supported(bench.vendor, kind):
            continue
        capped = kind.once or (kind.max_n is not None and bench.n > kind.max_n)
        if capped and any(r["operation"] == kind.name for r in rows):
            continue  # the tool's own cap: measured once, at it
        try:
            row = await bench.one(kind)
        except RuntimeError as exc:  # a refusal: reported as not measured, with its reason
            rows.append({"operation": kind.name, "n": bench.n, "error": str(exc)[:400]})
            print(f"  {bench.vendor} {kind.name}: {exc}"[:300], file=sys.stderr, flush=True)
            continue
        rows.append(row)
        print(
            f"  {bench.vendor} {kind.name} {row['n']}: plan {row['plan']['calls']}/"
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
    manifest, tmp = Path(argv[2]), Path(argv[3])
    result = asyncio.run(
        run_across(manifest, tmp, people)
        if vendor == "across"
        else run_vendor(vendor, sizes, manifest, tmp, people=people)
    )
    print(json.dumps(result))


# --- changes across connectors ----------------------------------------------------------------

ACROSS_PEOPLE = 200  # the *_everywhere tools take at most 200 people


async def plan_parts(db: Path, change_id: str) -> dict[str, list[str]]:
    """Connector -> every record the change's plan holds there (written or blocked)."""
    from mopsgate.governance import across
    from mopsgate.storage import StorageConfig, open_storage

    storage = await open_storage(StorageConfig.sqlite(db))
    try:
        change = await storage.changes.require(change_id)
    finally:
        await storage.close()
    return {
        p.connector: [r.ref for r in p.plan.records] + [b.ref for b in p.plan.blocked]
        for p in across.parts(change)
    }


def _by_connector(refs: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for ref in refs:
        out.setdefault(ref.split(":", 1)[0], []).append(ref)
    return out


async def run_across(manifest: Path, tmp: Path, people: int = SEED_PEOPLE) -> dict[str, Any]:
    """``propose_add_to_list_everywhere`` (list 3 on each connector) and
    ``propose_opt_out_everywhere`` of 200 people named by address, on all three sandboxes;
    calls summed over the three emulators, against the sum of each connector's minimum."""
    from mopsgate.sandbox.seed import seed_data
    from mopsgate.server.app import build_runtime, build_server
    from mopsgate.server.settings import Settings

    seed = seed_data(people)
    emus = {v: fast_emulator(v, seed) for v in ("marketo", "hubspot", "salesforce")}
    runtime = build_runtime(
        Settings(manifest, tmp / "budget-across", sandbox="memory"),
        env={},
        emulators=emus,
        client_options=fast_client_options(),
    )
    server = build_server(runtime, transport="memory", resolve_principal=lambda _: "assistant")
    rows = []
    async with Client(server) as client:
        for v in emus:  # tokens, before any count
            await client.call_tool("get_person", {"ref": vendor_facts(v)["ref"](0)})
        lists = [vendor_facts(v)["list"][0](LIST_IDX) for v in emus]
        adds = [p.email for p in seed.people[ACROSS_PEOPLE : 2 * ACROSS_PEOPLE]]
        outs = [p.email for p in seed.people[:ACROSS_PEOPLE]]
        kinds: list[tuple[str, dict[str, Any]]] = [
            ("add_to_list_everywhere", {"list_refs": lists, "emails": adds}),
            ("opt_out_everywhere", {"emails": outs}),
        ]
        for kind, args in kinds:
            args["reason"] = f"benchmark: {kind} of {ACROSS_PEOPLE} people"
            rows.append(await across_one(client, runtime, emus, kind, args))
            print(
                f"  across {kind}: plan {rows[-1]['plan']['calls']}/{rows[-1]['plan']['min']},"
                f" apply {rows[-1]['apply']['calls']}/{rows[-1]['apply']['min']}",
                file=sys.stderr,
                flush=True,
            )
    return {"vendor": "across", "rows": rows}


async def across_one(
    client: Client, runtime: Any, emus: dict[str, Any], kind: str, args: dict[str, Any]
) -> dict[str, Any]:
    operation = kind.removesuffix("_everywhere")
    lists = {ref.split(":", 1)[0]: ref for ref in args.get("list_refs", [])}

    def mark() -> dict[str, int]:
        return {v: len(e.core.requests) for v, e in emus.items()}

    def since(first: dict[str, int]) -> dict[str, list[Any]]:
        return {v: e.core.requests[first[v] :] for v, e in emus.items()}

    lookups = {v: await minimum.lookup_calls(v, e, args["emails"]) for v, e in emus.items()}
    first = mark()
    result = await client.call_tool(f"propose_{kind}", args)
    if result.is_error:
        raise RuntimeError(f"{kind} failed: {result.content[0].text[:400]}")  # type: ignore[union-attr]
    plan_requests = since(first)
    proposal = dict(result.structured_content or {})
    db = runtime.settings.db_path
    found = await plan_parts(db, proposal["change_id"])
    written = _by_connector(
        await approve_change(db, runtime.holder.manifest, proposal["change_id"])
    )
    plan_min: dict[str, minimum.Minimum] = {}
    apply_min: dict[str, minimum.Minimum] = {}
    for v, e in emus.items():
        facts_args = {"list_ref": lists.get(v, "")}
        f = await minimum.read_facts(v, e, runtime, operation, facts_args, found.get(v, []))
        plan_min[v] = minimum.across_minimum(v, operation, "plan", found.get(v, []), f, lookups[v])
        g = await minimum.read_facts(v, e, runtime, operation, facts_args, written.get(v, []))
        apply_min[v] = minimum.kind_minimum(v, operation, "apply", written.get(v, []), g)
    first = mark()
    applied = await client.call_tool(
        "apply_change",
        {"change_id": proposal["change_id"], "confirmation_token": proposal["confirmation_token"]},
    )
    apply_requests = since(first)
    audited = audited_calls(db, proposal["change_id"])
    status = (applied.structured_content or {}).get("status")
    return {
        "operation": kind,
        "tool": f"propose_{kind}",
        "n": ACROSS_PEOPLE,
        "written": sum(len(w) for w in written.values()),
        "status": status,
        "plan": across_part(plan_requests, plan_min, audited.get(f"propose_{kind}")),
        "apply": across_part(apply_requests, apply_min, audited.get("apply_change")),
    }


def across_part(
    requests: dict[str, list[Any]], least: dict[str, minimum.Minimum], audited: int | None
) -> dict[str, Any]:
    calls = sum(len(r) for r in requests.values())
    total = sum(m.calls for m in least.values())
    return {
        "calls": calls,
        "min": total,
        "min_parts": {f"{v} {k}": n for v, m in least.items() for k, n in m.parts.items()},
        "ratio": calls / total if total else float("nan"),
        "audited_calls": audited,
        "endpoints": {v: minimum.breakdown(r) for v, r in requests.items()},
    }


if __name__ == "__main__":
    main(sys.argv[1:])

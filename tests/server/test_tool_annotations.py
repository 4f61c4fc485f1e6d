"""What each tool tells a client about itself matches what the gate does with it (catalogue
I-21): every listed tool's annotations come from its risk class (or its own, where its effect
differs, e.g. cancel_change); a tool marked read-only is
one the gate treats as a read, and every tool that can lead to a vendor write says it is not.
Clients treat hints as untrusted, and the gate never relies on them."""

from __future__ import annotations

from mcp import Client

from mopsgate.governance.risk import RiskClass, tool_hints
from mopsgate.server.app import build_runtime, build_server
from mopsgate.server.settings import Settings
from mopsgate.tools.registry import all_specs
from tests.server.test_tool_schemas import everything_manifest

WRITES_UPSTREAM = {"apply_change"}  # the one tool that writes to a vendor


async def test_annotations_match_the_risk_the_gate_enforces(settings: Settings):
    settings.manifest_path.write_text(everything_manifest(settings.manifest_path.read_text()))
    runtime = build_runtime(settings, env={})
    server = build_server(runtime, transport="memory", resolve_principal=lambda _: "schema-checker")
    async with Client(server) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    specs = all_specs()
    assert set(tools) == set(specs)
    for name, tool in tools.items():
        risk = specs[name].risk
        hints = tool.annotations
        assert hints is not None, name
        expected = tool_hints(name, risk)
        assert hints.read_only_hint is expected["read_only_hint"], name
        assert hints.destructive_hint is expected["destructive_hint"], name
        if hints.read_only_hint:  # a read-only hint only on what the gate treats as a read
            assert risk is RiskClass.READ, name
        if name.startswith("propose_") or name in WRITES_UPSTREAM:
            assert hints.read_only_hint is False, name
    sends = [n for n, s in specs.items() if s.risk in (RiskClass.SEND, RiskClass.DELETE)]
    assert sends and all(tools[n].annotations.destructive_hint for n in sends)  # type: ignore[union-attr]

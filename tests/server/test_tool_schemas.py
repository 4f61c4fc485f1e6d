"""Every published tool schema gives every node a type (issue #16, item 7).

A strict schema checker run against tools/list warned about 11 tools whose output schema had
untyped nodes (``FieldChangeOut.before/after``). This walks what a client really receives —
every tool's inputSchema and outputSchema from tools/list over the SDK's in-memory client, as a
principal granted every tool — and names any node without a type. A node may instead be a
``$ref`` to a definition (checked on its own) or an ``anyOf``/``oneOf`` whose branches are
typed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from mcp import Client

from mopsgate.server.app import Runtime, build_runtime, build_server
from mopsgate.server.settings import Settings
from mopsgate.server.tool_schemas import generate, schema_nodes
from mopsgate.tools.registry import all_specs

CHILD_MAPS = ("properties", "$defs", "definitions", "patternProperties")
CHILD_NODES = ("items", "additionalProperties", "not", "contains", "propertyNames")
CHILD_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def everything_manifest(shipped: str) -> str:
    """The shipped manifest plus a principal allowed every tool (delete and send included),
    so tools/list publishes every schema there is."""
    text = shipped.replace('"lifecycle", "send"]', '"lifecycle", "send", "delete"]', 1)
    text = text.replace('"lifecycle"]\n', '"lifecycle", "delete"]\n', 1)
    tools = ", ".join(f'"{t}"' for t in all_specs())
    return text + (
        "\n[principals.schema-checker]\n"
        'use_cases = ["campaign-ops"]\n\n'
        "[[rules]]\n"
        'id = "schema-checker-everything"\n'
        'effect = "allow"\n'
        'principals = ["schema-checker"]\n'
        'use_case = "campaign-ops"\n'
        f"tools = [{tools}]\n"
        'modes = { update_fields = "propose", audience = "propose", lifecycle = "propose", '
        'consent = "propose", send = "propose", delete = "propose" }\n'
    )


def untyped(node: Any, path: str) -> Iterator[str]:
    if not isinstance(node, dict):
        return
    branches = [b for k in ("anyOf", "oneOf") for b in node.get(k, [])]
    if "type" not in node and "$ref" not in node and not branches:
        yield path
    for key in CHILD_MAPS:
        for name, sub in (node.get(key) or {}).items():
            yield from untyped(sub, f"{path}.{key}.{name}")
    for key in CHILD_NODES:
        yield from untyped(node.get(key), f"{path}.{key}")
    for key in CHILD_LISTS:
        for i, sub in enumerate(node.get(key) or []):
            yield from untyped(sub, f"{path}.{key}[{i}]")


def test_the_walker_finds_an_untyped_node():
    """The check itself can fail: the schema the attack run complained about is caught."""
    before_after = {
        "type": "object",
        "$defs": {"FieldChangeOut": {"type": "object", "properties": {"before": {"title": "B"}}}},
        "properties": {"x": {"anyOf": [{"type": "string"}, {"title": "untyped branch"}]}},
    }
    assert sorted(untyped(before_after, "t")) == [
        "t.$defs.FieldChangeOut.properties.before",
        "t.properties.x.anyOf[1]",
    ]


async def test_every_node_of_every_tool_schema_has_a_type(settings: Settings):
    settings.manifest_path.write_text(everything_manifest(settings.manifest_path.read_text()))
    runtime: Runtime = build_runtime(settings, env={})
    server = build_server(runtime, transport="memory", resolve_principal=lambda _: "schema-checker")
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
    assert {t.name for t in tools} == set(all_specs())
    problems = [
        path
        for t in tools
        for kind, schema in (("inputSchema", t.input_schema), ("outputSchema", t.output_schema))
        for path in untyped(schema, f"{t.name}.{kind}")
    ]
    assert problems == []
    assert all(t.output_schema for t in tools)


def test_the_published_schemas_carry_nothing_made_up():
    """No title pydantic makes up ("Person Refs" over person_refs, a class name over a model),
    and an output's optional plain value is one node with a type list rather than an anyOf of
    two: every session lists the tools, and a client compiles each output schema it uses at a
    cost per node. Inputs keep anyOf, which every model API reads."""
    published = generate(list(all_specs().values()))
    titled = [
        name
        for name, pair in published.items()
        for schema in pair
        for node in schema_nodes(schema)
        if "title" in node
    ]
    assert titled == []
    inputs, outputs = published["propose_add_to_list"]
    assert outputs["properties"]["target"] == {"type": ["string", "null"]}
    assert [b.get("type") for b in inputs["properties"]["use_case"]["anyOf"]] == ["string", "null"]

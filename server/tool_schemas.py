"""The tools as ``tools/list`` publishes them, with their JSON Schemas remembered between starts.

An MCP client starts ``mopsgate serve`` for every session, and its first request is
``tools/list``, whose answer carries each tool's input and output JSON Schema. Generating those
from the pydantic models costs more than everything else the answer needs, so the schemas are
kept in the state directory under a fingerprint of what they are generated from: the tools'
names and their models' compiled (core) schemas, and the pydantic version. Any change to a
tool's models changes the fingerprint, so a stale file is never used: it is regenerated and
written again. A file that cannot be read or written is not an error; the schemas are then
generated in memory, as on a first start. The same file carries each tool's listing under a
stamp of the source, so that a start can list the tools without importing them
(``tool_index.py``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from mopsgate.server.tool_index import FILE_NAME, IndexedSpec, listing, source_stamp
from mopsgate.tools.spec import Spec

log = logging.getLogger("mopsgate.server")

__all__ = ["FILE_NAME", "Schemas", "fingerprint", "generate", "schema_nodes", "schemas"]
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")  # a function's repr names its (per-run) address
Schemas = dict[str, tuple[dict[str, Any], dict[str, Any]]]  # tool -> (input, output)
# An output's ``str | None`` is ``"type": ["string", "null"]``, one node where ``anyOf`` makes
# three: a client's check of the schema costs by the node (a third less for the proposals).
# Only plain types are joined so (pydantic's rule); the input schemas, which models read and
# some model APIs take only a subset of, keep ``anyOf``.
OUTPUT_UNIONS: Literal["primitive_type_array"] = "primitive_type_array"
SHAPE = "untitled, output type arrays"  # how they are shaped: a file of another shape is stale
_MEMO: dict[str, Schemas] = {}  # per process: every server built here shares one listing
# spec ids -> (the specs, so the ids stay theirs; their fingerprint)
_FINGERPRINTS: dict[tuple[int, ...], tuple[tuple[Spec, ...], str]] = {}


class ToolSchema(GenerateJsonSchema):
    """A tool's models as published, without the titles pydantic makes up: "Person Refs" over
    ``person_refs`` and a class name over every model and enum tell neither a client nor a
    model anything, and were 15% of the listing, which every session asks for first. Titles a
    field declares itself are kept."""

    def generate(self, schema: CoreSchema, mode: JsonSchemaMode = "validation") -> JsonSchemaValue:
        self._class_names: set[str] = set()
        out = super().generate(schema, mode)
        for node in schema_nodes(out):
            if node.get("title") in self._class_names:
                del node["title"]
        return out

    def field_title_should_be_set(self, schema: object) -> bool:
        return False

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        self._class_names.add(schema["cls"].__name__)
        return super().model_schema(schema)

    def enum_schema(self, schema: core_schema.EnumSchema) -> JsonSchemaValue:
        self._class_names.add(schema["cls"].__name__)
        return super().enum_schema(schema)


_CHILD_MAPS = ("properties", "$defs", "patternProperties")
_CHILD_NODES = ("items", "additionalProperties", "not", "contains", "propertyNames")
_CHILD_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")


def schema_nodes(node: object) -> Iterator[dict[str, Any]]:
    """Every schema node of a JSON Schema (the names of properties are not nodes)."""
    if not isinstance(node, dict):
        return
    yield node
    for key in _CHILD_MAPS:
        for sub in (node.get(key) or {}).values():
            yield from schema_nodes(sub)
    for key in _CHILD_NODES:
        yield from schema_nodes(node.get(key))
    for key in _CHILD_LISTS:
        for sub in node.get(key) or ():
            yield from schema_nodes(sub)


def fingerprint(specs: Iterable[Spec]) -> str:
    digest = hashlib.sha256(f"pydantic {pydantic.VERSION} {SHAPE}".encode())
    for spec in sorted(specs, key=lambda s: s.name):
        for model in (spec.input_model, spec.output_model):
            model.model_rebuild()  # a model built at first use (defer_build) is built now
            core = _ADDRESS.sub("", repr(model.__pydantic_core_schema__))
            digest.update(f"\0{spec.name}\0{core}".encode())
    return digest.hexdigest()


def _fingerprint_of(specs: list[Spec]) -> str:
    """``fingerprint`` of these very spec objects, worked out once per process (it reprs every
    model's core schema: ~7 ms, and every server a process builds lists the same tools)."""
    ids = tuple(map(id, specs))
    known = _FINGERPRINTS.get(ids)
    if known is None:
        known = _FINGERPRINTS[ids] = (tuple(specs), fingerprint(specs))
    return known[1]


def generate(specs: Iterable[Spec]) -> Schemas:
    return {
        spec.name: (
            spec.input_model.model_json_schema(by_alias=True, schema_generator=ToolSchema),
            spec.output_model.model_json_schema(
                schema_generator=ToolSchema, union_format=OUTPUT_UNIONS
            ),
        )
        for spec in specs
    }


def _read(path: Path, key: str) -> tuple[Schemas | None, object]:
    """The remembered schemas (None unless they are this ``key``'s) and the file's source
    stamp."""
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None
    if not isinstance(stored, dict) or stored.get("fingerprint") != key:
        return None, None
    tools = stored.get("tools")
    if not isinstance(tools, dict):
        return None, None
    try:
        found = {str(name): (dict(pair[0]), dict(pair[1])) for name, pair in tools.items()}
    except (TypeError, ValueError, IndexError, KeyError):
        return None, None
    return found, stored.get("sources")


def _write(path: Path, key: str, schemas: Schemas, specs: list[Spec]) -> None:
    """Atomically (a reader never sees half a file); a failure only costs the next start.
    The listing and the source stamp let the next start list the tools without importing
    them (``tool_index.py``)."""
    stored = {
        "fingerprint": key,
        "tools": schemas,
        "sources": source_stamp(),
        "listing": listing(specs),
    }
    body = json.dumps(stored, separators=(",", ":"))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tool-schemas-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body)
        os.replace(tmp, path)
    except OSError as exc:
        log.debug("tool schemas not cached in %s: %s", path.parent, exc)
        with contextlib.suppress(OSError, UnboundLocalError):
            os.unlink(tmp)


def schemas(specs: Iterable[Spec], home: Path | None) -> Schemas:
    """Every tool's (input, output) JSON Schema, from memory, the state directory or the
    models, in that order. Stand-ins from the remembered listing carry their own."""
    specs = list(specs)
    if specs and all(isinstance(s, IndexedSpec) for s in specs):
        return {s.name: s.published for s in specs if isinstance(s, IndexedSpec)}
    key = _fingerprint_of(specs)
    found = _MEMO.get(key)
    if found is None:
        path = home / FILE_NAME if home is not None else None
        found, sources = _read(path, key) if path is not None else (None, None)
        if found is None or set(found) != {s.name for s in specs}:
            found = generate(specs)
            sources = None
        if path is not None and sources != source_stamp() and path.parent.is_dir():
            _write(path, key, found, specs)  # new schemas, or this source's first start
        _MEMO[key] = found
    return found

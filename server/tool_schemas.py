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
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pydantic

from mopsgate.server.tool_index import FILE_NAME, IndexedSpec, listing, source_stamp
from mopsgate.tools.spec import Spec

log = logging.getLogger("mopsgate.server")

__all__ = ["FILE_NAME", "Schemas", "fingerprint", "generate", "schemas"]
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")  # a function's repr names its (per-run) address
Schemas = dict[str, tuple[dict[str, Any], dict[str, Any]]]  # tool -> (input, output)
_MEMO: dict[str, Schemas] = {}  # per process: every server built here shares one listing


def fingerprint(specs: Iterable[Spec]) -> str:
    digest = hashlib.sha256(f"pydantic {pydantic.VERSION}".encode())
    for spec in sorted(specs, key=lambda s: s.name):
        for model in (spec.input_model, spec.output_model):
            model.model_rebuild()  # a model built at first use (defer_build) is built now
            core = _ADDRESS.sub("", repr(model.__pydantic_core_schema__))
            digest.update(f"\0{spec.name}\0{core}".encode())
    return digest.hexdigest()


def generate(specs: Iterable[Spec]) -> Schemas:
    return {
        spec.name: (
            spec.input_model.model_json_schema(by_alias=True),
            spec.output_model.model_json_schema(),
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
    key = fingerprint(specs)
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

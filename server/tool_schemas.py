"""The tools as ``tools/list`` publishes them, with their JSON Schemas remembered between starts.

An MCP client starts ``mopsgate serve`` for every session, and its first request is
``tools/list``, whose answer carries each tool's input and output JSON Schema. Generating those
from the pydantic models costs more than everything else the answer needs, so the schemas are
kept in the state directory under a fingerprint of what they are generated from: the tools'
names and their models' compiled (core) schemas, and the pydantic version. Any change to a
tool's models changes the fingerprint, so a stale file is never used: it is regenerated and
written again. A file that cannot be read or written is not an error; the schemas are then
generated in memory, as on a first start.
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

from mopsgate.tools.spec import Spec

log = logging.getLogger("mopsgate.server")

FILE_NAME = "tool-schemas.json"
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")  # a function's repr names its (per-run) address
Schemas = dict[str, tuple[dict[str, Any], dict[str, Any]]]  # tool -> (input, output)
_MEMO: dict[str, Schemas] = {}  # per process: every server built here shares one listing


def fingerprint(specs: Iterable[Spec]) -> str:
    digest = hashlib.sha256(f"pydantic {pydantic.VERSION}".encode())
    for spec in sorted(specs, key=lambda s: s.name):
        for model in (spec.input_model, spec.output_model):
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


def _read(path: Path, key: str) -> Schemas | None:
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("fingerprint") != key:
        return None
    tools = stored.get("tools")
    if not isinstance(tools, dict):
        return None
    try:
        return {str(name): (dict(pair[0]), dict(pair[1])) for name, pair in tools.items()}
    except (TypeError, ValueError, IndexError, KeyError):
        return None


def _write(path: Path, key: str, schemas: Schemas) -> None:
    """Atomically (a reader never sees half a file); a failure only costs the next start."""
    body = json.dumps({"fingerprint": key, "tools": schemas}, separators=(",", ":"))
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
    models, in that order."""
    specs = list(specs)
    key = fingerprint(specs)
    found = _MEMO.get(key)
    if found is None:
        path = home / FILE_NAME if home is not None else None
        found = _read(path, key) if path is not None else None
        if found is None or set(found) != {s.name for s in specs}:
            found = generate(specs)
            if path is not None and path.parent.is_dir():
                _write(path, key, found)
        _MEMO[key] = found
    return found

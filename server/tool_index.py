"""The tools as a start-up knows them before importing them: ``mopsgate serve`` answers its first
``tools/list`` without loading a single tool module.

A client starts ``mopsgate serve`` for every session and waits for that first answer; importing
the forty tools' modules (their handlers, their pydantic models) is a large part of what the
governed server does beyond a bare one. Everything the listing and the manifest's catalogue need
of a tool (name, title, description, risk class, connector need, JSON Schemas) is remembered in
the state directory beside the schemas (``tool_schemas.py``), under a stamp of the source it was
taken from: the path, size and modification time of every mopsgate module, and the pydantic
version. At start-up a file with the current stamp gives :class:`IndexedSpec` stand-ins, which
import the real tools the first time a call needs one (its models or its handler). Any other
file, or none, means importing the tools as before; the first listing then writes the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pydantic
from pydantic import BaseModel

from mopsgate.governance.risk import RiskClass
from mopsgate.tools.spec import ConnectorNeed, Spec, ToolContext, ToolInput

PACKAGE = Path(__file__).parent.parent  # mopsgate/ (its folders are links in a checkout)
FILE_NAME = "tool-schemas.json"  # in the state directory, shared with tool_schemas.py


def source_stamp(root: Path = PACKAGE) -> str:
    """What the remembered listing was taken from: every module's path, size and mtime (an
    edit, a checkout or a reinstall changes it), and the pydantic version (it writes the
    schemas). One stat per module, no module read, taken once per process: the tools this
    process runs are the ones it imported, whatever is edited on disk later."""
    return _stamp(root)


@cache
def _stamp(root: Path) -> str:
    digest = hashlib.sha256(f"pydantic {pydantic.VERSION}".encode())
    _stamp_folder(str(root), "", digest)
    return digest.hexdigest()


def _stamp_folder(folder: str, rel: str, digest: Any) -> None:
    """A folder's modules, then its subfolders, each in name order (what ``os.walk`` top-down
    with sorted names gives, at a third of its cost: one ``scandir`` per folder, no path
    arithmetic per file; every start pays this before its first answer)."""
    files: list[os.DirEntry[str]] = []
    folders: list[os.DirEntry[str]] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # through a link, as the package's folders are
            except OSError:
                is_dir = False
            if is_dir:
                if not entry.name.startswith((".", "__")):
                    folders.append(entry)
            elif entry.name.endswith(".py"):
                files.append(entry)
    for entry in sorted(files, key=_name):
        st = entry.stat()
        digest.update(f"\0{rel}{entry.name}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    for entry in sorted(folders, key=_name):
        _stamp_folder(entry.path, f"{rel}{entry.name}/", digest)


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


def listing(specs: Iterable[Spec]) -> dict[str, dict[str, str]]:
    """What the file keeps of each tool beside its schemas."""
    return {
        s.name: {
            "title": s.title,
            "description": s.description,
            "risk": s.risk.value,
            "needs": s.needs.value,
        }
        for s in specs
    }


@cache
def _real_specs() -> Mapping[str, Spec]:
    from mopsgate.tools.registry import all_specs

    return all_specs()


@dataclass(frozen=True, eq=False)
class IndexedSpec:
    """A tool as the remembered listing describes it. Its models and handler are the real
    tool's, imported the first time a call asks for them; a :class:`~mopsgate.tools.spec.Spec`
    like any other."""

    name: str
    title: str
    description: str
    risk: RiskClass
    needs: ConnectorNeed
    published: tuple[dict[str, Any], dict[str, Any]]  # (input, output) JSON Schema

    def real(self) -> Spec:
        return _real_specs()[self.name]

    @property
    def input_model(self) -> type[ToolInput]:
        return self.real().input_model

    @property
    def output_model(self) -> type[BaseModel]:
        return self.real().output_model

    async def run(self, ctx: ToolContext, args: ToolInput) -> BaseModel:
        return await self.real().run(ctx, args)

    def __hash__(self) -> int:
        return hash(self.name)


def _indexed(stored: Any, stamp: str) -> dict[str, Spec] | None:
    """The stand-ins of a file written from this very source; None for any other file."""
    if not isinstance(stored, dict) or stored.get("sources") != stamp:
        return None
    tools, listed = stored.get("tools"), stored.get("listing")
    if not isinstance(tools, dict) or not isinstance(listed, dict) or set(tools) != set(listed):
        return None
    try:
        return {
            name: IndexedSpec(
                name=name,
                title=str(info["title"]),
                description=str(info["description"]),
                risk=RiskClass(info["risk"]),
                needs=ConnectorNeed(info["needs"]),
                published=(dict(tools[name][0]), dict(tools[name][1])),
            )
            for name, info in listed.items()
        }
    except (TypeError, ValueError, KeyError, IndexError):
        return None


def startup_specs(home: Path | None) -> dict[str, Spec]:
    """The tools a server starts with: stand-ins from ``home``'s remembered listing when it
    was written from this source, the real tools otherwise."""
    if home is not None:
        try:
            stored = json.loads((home / FILE_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            stored = None
        found = _indexed(stored, source_stamp()) if stored is not None else None
        if found is not None:
            return found
    return dict(_real_specs())

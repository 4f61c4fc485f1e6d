"""How the Salesforce emulator shows a record on the wire: the requested fields and relationship
paths, each (parent) record with its ``attributes`` type and URL."""

from __future__ import annotations

from typing import Any

from mopsgate.connectors.salesforce import fields as cat
from mopsgate.sandbox.salesforce.state import OrgState, Record


def attributes(version: str, obj: str, native_id: Any) -> dict[str, str]:
    return {"type": obj, "url": f"/services/data/{version}/sobjects/{obj}/{native_id}"}


def project(state: OrgState, version: str, obj: str, rec: Record, paths: list[str]) -> Record:
    out: Record = {"attributes": attributes(version, obj, rec.get("Id"))}
    for path in paths:
        rel, _, field = path.rpartition(".")
        if not rel:
            out[path] = state.get(obj, rec, path)
            continue
        fk, target = cat.RELATIONSHIPS[obj][rel]
        parent = state.record(target, rec.get(fk) or "")
        if parent is None:
            out[rel] = None
        elif out.get(rel) is None:
            out[rel] = {"attributes": attributes(version, target, parent["Id"])}
        if parent is not None:
            out[rel][field] = state.get(target, parent, field)
    return out

"""How a tool is declared: an input model, an output model, a handler, and its risk class.

A tool never talks to MCP, audit or policy itself: the server's pipeline decides, validates,
runs the handler with a ``ToolContext`` and audits. The handler only asks the core for what it
needs through the context, which is what keeps the governed path the only path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from mopsgate.connectors.protocol import Connector
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.policy import FieldAccess
from mopsgate.governance.risk import RiskClass

In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)


class StrictInput(BaseModel):
    """Base of every tool input: unknown fields are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Connectors(Protocol):
    def get(self, name: str) -> Connector: ...

    def environment(self, name: str) -> str: ...


@dataclass
class CallNotes:
    """What a handler tells the audit log about the call beyond its arguments."""

    summary: str = ""
    change_id: str | None = None
    connector: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ToolContext:
    principal: str
    manifest: Manifest
    manifest_digest: str
    connectors: Connectors
    notes: CallNotes
    services: dict[str, Any] = field(default_factory=dict)
    transport: str = "memory"

    def field_access(self, connector: str, obj: str) -> FieldAccess:
        from mopsgate.governance.policy import field_access

        return field_access(self.manifest, self.principal, connector, obj)


Handler = Callable[[ToolContext, In], Awaitable[Out]]


@dataclass(frozen=True)
class ToolSpec(Generic[In, Out]):
    name: str
    title: str
    description: str
    input_model: type[In]
    output_model: type[Out]
    handler: Handler[In, Out]
    risk: RiskClass

    def target(self, args: BaseModel) -> tuple[str | None, str | None]:
        """The connector and object a call addresses, for the policy decision.

        Taken from an explicit ``connector``/``object`` argument, else from the first record
        reference among the arguments (``"<connector>:<object>:<id>"``).
        """
        connector = getattr(args, "connector", None)
        obj = getattr(args, "object", None)
        if not isinstance(connector, str):
            connector = None
        if not isinstance(obj, str):
            obj = None
        for attr in REF_ATTRS:
            ref = getattr(args, attr, None)
            if isinstance(ref, str) and ref.count(":") >= 2:
                ref_connector, ref_obj, _ = ref.split(":", 2)
                return connector or ref_connector, obj or ref_obj
        for attr in REF_LIST_ATTRS:
            refs = getattr(args, attr, None)
            if isinstance(refs, list) and refs and all(isinstance(r, str) for r in refs):
                parts = {tuple(r.split(":", 2)[:2]) for r in refs}
                connectors = {p[0] for p in parts}
                if len(connectors) == 1:
                    objects = {p[1] for p in parts if len(p) == 2}
                    only_obj = objects.pop() if len(objects) == 1 else None
                    return connector or connectors.pop(), obj or only_obj
        return connector, obj


REF_ATTRS = ("ref", "person_ref", "list_ref", "campaign_ref")
REF_LIST_ATTRS = ("refs", "person_refs")

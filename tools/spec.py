"""How a tool is declared: an input model (which names its target), an output model, a handler,
its risk class and whether it needs a connector.

A tool never talks to MCP, audit or policy itself: the server's pipeline decides, validates,
runs the handler with a ``ToolContext`` and audits. The handler only asks the core for what it
needs through the context, which is what keeps the governed path the only path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from mopsgate.crm.connector import Connector
from mopsgate.crm.refs import parse_ref
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.policy import FieldAccess
from mopsgate.governance.ports import ChangeStore
from mopsgate.governance.progress import Progress
from mopsgate.governance.risk import RiskClass

if TYPE_CHECKING:
    from mopsgate.governance.applying import Applier
    from mopsgate.governance.proposing import Proposer

In = TypeVar("In", bound="ToolInput")
Out = TypeVar("Out", bound=BaseModel)
Kept = TypeVar("Kept")


@dataclass(frozen=True, slots=True)
class Target:
    """The connector and object a call is decided on (either may be absent)."""

    connector: str | None = None
    object: str | None = None

    NONE: ClassVar[Target]

    @classmethod
    def of(cls, *refs: str | None) -> Target:
        """The one connector of these record references, and their object when they all
        share one; no target when they span connectors (the tool then refuses the mix)."""
        try:
            parts = {parse_ref(ref)[:2] for ref in refs if ref}
        except ValueError:  # not a reference: validation refuses it before any decision
            return cls.NONE
        connectors = {connector for connector, _ in parts}
        if len(connectors) != 1:
            return cls.NONE
        objects = {obj for _, obj in parts}
        return cls(connectors.pop(), objects.pop() if len(objects) == 1 else None)

    def or_(self, fallback: Target) -> Target:
        """This target, with what it leaves open taken from ``fallback``."""
        return Target(self.connector or fallback.connector, self.object or fallback.object)


Target.NONE = Target()


class ToolInput(BaseModel):
    """Base of every tool input: unknown fields are errors, not silently dropped; and the input
    says which connector and object the call addresses, for the policy decision."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    use_case: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]{1,100}$",
        description="The use case this call serves. Needed only when you work under several "
        "use cases that all allow the call (the refusal then lists them); whoami shows yours.",
    )

    def target(self) -> Target:
        return Target.NONE


class ConnectorNeed(StrEnum):
    """Whether a tool talks to a vendor, and where the connector comes from."""

    NONE = "none"  # identity and the change bookkeeping: no vendor at all
    ARGUMENT = "argument"  # reads and proposals: the arguments name the connector
    STORED_CHANGE = "stored_change"  # apply_change, propose_revert: the stored change names it


class Connectors(Protocol):
    def get(self, name: str) -> Connector: ...

    def environment(self, name: str) -> str: ...


class KeptScans(Protocol):
    """Whole-database reads kept for their later pages (``tools/snapshots.py``; declared here
    so that a listing, which imports no tool module, can type the context)."""

    async def result(
        self,
        kind: type[Kept],
        *,
        principal: str,
        use_case: str | None,
        query: Mapping[str, object],
        rights: object,
        first_page: bool,
        compute: Callable[[], Awaitable[Kept]],
    ) -> Kept: ...


@dataclass
class CallNotes:
    """What a handler tells the audit log about the call beyond its arguments."""

    summary: str = ""
    change_id: str | None = None
    connector: str | None = None
    # A call on a stored change runs under the change's use case, not the rule's.
    use_case: str | None = None
    # The records the call targets (a proposal's plan); None: the references in its result.
    records: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Services:
    """The change lifecycle's services, opened once per process with the state directory."""

    store: ChangeStore
    proposer: Proposer
    applier: Applier  # writes its own intent row before any upstream write
    # Where humans review changes (the review console's base URL). A proposal names the page
    # its change is reviewed on; nothing the assistant is told says how to approve.
    console_url: str = ""


@dataclass
class ToolContext:
    principal: str
    manifest: Manifest
    manifest_digest: str
    connectors: Connectors
    notes: CallNotes
    services: Services | None = None
    transport: str = "memory"
    use_case: str | None = None  # of the rule that allowed the call (decision.use_case)
    # Told how far long work got (a plan's batches read, an apply's batches written): the
    # client's progress notifications, when it asked for them.
    progress: Progress | None = None
    # Whole-database reads kept for their later pages: the server's, shared by its calls
    # (None: nothing is kept, every page reads afresh).
    snapshots: KeptScans | None = None

    def field_access(self, connector: str, obj: str) -> FieldAccess:
        from mopsgate.governance.policy import field_access

        return field_access(self.manifest, self.principal, connector, obj)

    @property
    def changes(self) -> Services:
        """The change services; only the change tools ask, and only once the runtime is open."""
        if self.services is None:
            raise RuntimeError("the change services are not open")
        return self.services


Handler = Callable[[ToolContext, In], Awaitable[Out]]


@dataclass(frozen=True)
class ToolSpec(Generic[In, Out]):
    """One tool, declared once: everything else (the manifest's catalogue, the MCP listing and
    annotations, the README check) is derived from these."""

    name: str
    title: str
    description: str
    input_model: type[In]
    output_model: type[Out]
    handler: Handler[In, Out]
    risk: RiskClass
    needs: ConnectorNeed

    async def run(self, ctx: ToolContext, args: ToolInput) -> Out:
        """Call the handler. ``args`` must be this tool's own input model (what the pipeline
        validated with it); anything else is a wiring bug, refused before the handler runs."""
        if not isinstance(args, self.input_model):
            raise TypeError(f"{self.name} takes {self.input_model.__name__}, not {type(args)}")
        return await self.handler(ctx, args)


class Spec(Protocol):
    """Any tool's spec with its input and output types left open: what the pipeline, the
    catalogue and the MCP listing need to hold every tool in one collection. Every
    ``ToolSpec`` is one."""

    @property
    def name(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def input_model(self) -> type[ToolInput]: ...
    @property
    def output_model(self) -> type[BaseModel]: ...
    @property
    def risk(self) -> RiskClass: ...
    @property
    def needs(self) -> ConnectorNeed: ...

    async def run(self, ctx: ToolContext, args: ToolInput) -> BaseModel: ...

    def __hash__(self) -> int: ...  # the MCP listing caches each tool's schemas per spec

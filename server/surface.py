"""The MCP surface: the SDK's low-level ``Server``, answering ``tools/list`` and ``tools/call``.

We build on the low-level ``mcp.server.Server`` rather than ``MCPServer`` because MCPServer's
tool manager validates every call's arguments a second time, against a signature synthesised
from our models, and its middleware API (where the pipeline had to sit) is provisional. Here the
SDK checks only the request envelope (a tool name, an arguments object) and calls our handlers;
``tools/call`` is one direct call into ``Pipeline.call``. Capabilities follow from the handlers
that exist: tools with ``listChanged`` (pushed on ``subscriptions/listen`` in the 2026 era, as
``notifications/tools/list_changed`` to legacy sessions), and no prompts or resources, whose
methods the SDK answers with the standard -32601.

One middleware stays, for what happens before a request reaches a handler: a malformed
``tools/call`` is audited and answered with -32602, and every JSON-RPC error a client caused is
logged as one line, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pydantic_core
from mcp.server import Server
from mcp.server.lowlevel.server import NotificationOptions
from mcp.server.models import InitializationOptions
from mcp.server.subscriptions import InMemorySubscriptionBus, ListenHandler, ToolsListChanged
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_PARAMS,
    CallToolRequestParams,
    ListToolsResult,
    PaginatedRequestParams,
    Tool,
    ToolAnnotations,
)

from mopsgate.governance.caller import Caller
from mopsgate.governance.errors import AuditUnavailable, InvalidInput
from mopsgate.governance.risk import tool_hints
from mopsgate.server.errors import error_text
from mopsgate.server.pipeline import CallOutcome, Pipeline, Refused
from mopsgate.server.tool_schemas import Schemas, schemas
from mopsgate.tools.spec import Spec

log = logging.getLogger("mopsgate.protocol")

PrincipalResolver = Callable[[Any], str | None]  # request context -> principal
Lifespan = Callable[[Server[Any]], AbstractAsyncContextManager[Any]]


def mcp_tool(spec: Spec, published: Schemas) -> Tool:
    """A tool as ``tools/list`` publishes it: its schemas are those of the models the pipeline
    validates with (``tool_schemas``), and its annotations follow from its risk class."""
    input_schema, output_schema = published[spec.name]
    return Tool(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        input_schema=input_schema,
        output_schema=output_schema,
        annotations=ToolAnnotations(**tool_hints(spec.name, spec.risk)),
    )


def with_limits(tool: Tool, limits: dict[str, str]) -> Tool:
    """The listing of a proposal tool says the caller's own per-change and hourly caps."""
    note = limits.get(tool.name)
    if not note:
        return tool
    return tool.model_copy(update={"description": f"{tool.description} {note}"})


def to_call_result(outcome: CallOutcome) -> dict[str, Any]:
    """The tool result a client sees: the output as structured content plus the same JSON as
    text (both from the one serialisation the pipeline made before auditing the call); a
    refusal as is_error with the one-line ``[code] … What to do: …`` text.

    Handed to the SDK in its wire form, exactly what ``CallToolResult`` dumps to: the SDK
    checks every result against the protocol's schema before sending it (its result sieve),
    so building the model first only validated the output and walked it to JSON once more."""
    if isinstance(outcome, Refused):
        text = error_text(outcome.error)
        return {"content": [{"type": "text", "text": text}], "isError": True, **_COMPLETE}
    text = pydantic_core.to_json(outcome.data, indent=2).decode()
    return {
        "content": [{"type": "text", "text": text}],
        "structuredContent": outcome.data,
        "isError": False,
        **_COMPLETE,
    }


_COMPLETE = {"resultType": "complete"}


def _client_info(ctx: Any) -> tuple[str | None, str | None]:
    params = getattr(ctx.session, "client_params", None)
    info = getattr(params, "client_info", None)
    return getattr(info, "name", None), getattr(info, "version", None)


def _malformed_call(name: Any, arguments: Any) -> InvalidInput | None:
    """A tools/call whose params do not have the protocol's shape is a client bug: it gets the
    standard -32602 (after its audit row), not a tool result."""
    if isinstance(name, str) and name and (arguments is None or isinstance(arguments, dict)):
        return None
    return InvalidInput(
        "tools/call needs params.name (a non-empty string) and params.arguments (an object, "
        "or absent).",
        hint="Send the tool's name and its arguments as a JSON object; nothing was run.",
    )


class McpSurface:
    """The handlers and the middleware of one server, for one transport."""

    def __init__(
        self,
        pipeline: Pipeline,
        transport: str,
        resolve_principal: PrincipalResolver,
        *,
        home: Path | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.transport = transport
        self.resolve_principal = resolve_principal
        self.home = home  # where the tools' JSON Schemas are remembered between starts
        self._tools: dict[str, Tool] = {}
        # connection -> a session on it; forgotten when the connection ends (see below)
        self.legacy_sessions: dict[Any, Any] = {}

    def caller(self, ctx: Any) -> Caller:
        return Caller(self.resolve_principal(ctx), self.transport, *_client_info(ctx))

    async def list_tools(self, ctx: Any, _: PaginatedRequestParams | None) -> ListToolsResult:
        self._remember_session(ctx)
        caller = self.caller(ctx)
        limits = await self.pipeline.limits(caller)
        return ListToolsResult(
            tools=[
                with_limits(self.tool(spec), limits) for spec in await self.pipeline.visible(caller)
            ]
        )

    def tool(self, spec: Spec) -> Tool:
        """The listing of every tool, built at the first request that needs one."""
        if not self._tools:
            specs = list(self.pipeline.specs.values())
            published = schemas(specs, self.home)
            self._tools = {s.name: mcp_tool(s, published) for s in specs}
        return self._tools[spec.name]

    async def call_tool(self, ctx: Any, params: CallToolRequestParams) -> dict[str, Any]:
        """Long work reports progress on the request's own channel: the SDK sends
        ``notifications/progress`` when the client gave a progress token, and nothing when not."""
        outcome = await self.pipeline.call(
            self.caller(ctx), params.name, params.arguments or {}, ctx.session.report_progress
        )
        return to_call_result(outcome)

    def _remember_session(self, ctx: Any) -> None:
        """Legacy-era sessions get tools/list_changed pushed on their own channel. Each is
        forgotten when its connection ends (closed, expired or evicted), or thousands of
        abandoned HTTP sessions would stay in memory through this table."""
        if str(ctx.protocol_version) >= "2026":
            return
        conn = getattr(ctx.session, "_connection", None)
        if conn is None or conn in self.legacy_sessions:
            return
        self.legacy_sessions[conn] = ctx.session
        conn.exit_stack.callback(self.legacy_sessions.pop, conn, None)

    async def tell_legacy_sessions(self) -> None:
        for conn, session in list(self.legacy_sessions.items()):
            try:
                await session.send_tool_list_changed()
            except Exception:  # a closed session is simply forgotten
                self.legacy_sessions.pop(conn, None)

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        """Middleware, in front of the SDK's own request validation."""
        try:
            if ctx.method != "tools/call":
                return await call_next(ctx)
            await self._refuse_malformed(ctx)
            try:
                return await call_next(ctx)
            except MCPError as error:  # the SDK refused the request before our handler ran
                refused = InvalidInput(f"the request was refused: {error}")
                try:
                    await self._audit_refusal(ctx, refused)
                except AuditUnavailable as exc:  # refused either way
                    log.error("could not audit a refused tools/call: %s", exc.message)
                raise
        except MCPError as error:
            _log_client_error(ctx, error)
            raise

    async def _refuse_malformed(self, ctx: Any) -> None:
        params = ctx.params if isinstance(ctx.params, dict) else {}
        malformed = _malformed_call(params.get("name"), params.get("arguments"))
        if malformed is None:
            return
        try:
            await self._audit_refusal(ctx, malformed)
        except AuditUnavailable as exc:
            raise MCPError(code=INVALID_PARAMS, message=error_text(exc)) from None
        raise MCPError(code=INVALID_PARAMS, message=error_text(malformed))

    async def _audit_refusal(self, ctx: Any, error: InvalidInput) -> None:
        params = ctx.params if isinstance(ctx.params, dict) else {}
        raw_name = params.get("name")
        name = raw_name if isinstance(raw_name, str) else ""
        await self.pipeline.refuse(self.caller(ctx), name, params.get("arguments"), error)


def _log_client_error(ctx: Any, error: MCPError) -> None:
    """One line per client mistake: enough to see who keeps sending what, never a traceback."""
    name = _client_info(ctx)[0] or "unnamed client"
    log.info(
        "JSON-RPC error %d on %s from %s: %s", error.code, ctx.method, name, error.message[:200]
    )


class GovernedServer(Server[Any]):
    """The low-level server, announcing ``tools.listChanged`` to legacy-era clients too (we
    push the notification on every manifest reload)."""

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            notification_options or NotificationOptions(tools_changed=True),
            experimental_capabilities,
            extensions,
        )


def build_mcp_server(
    surface: McpSurface,
    bus: InMemorySubscriptionBus,
    *,
    instructions: str,
    lifespan: Lifespan,
) -> GovernedServer:
    server = GovernedServer(
        "mopsgate",
        version="0.1.0",
        instructions=instructions,
        lifespan=lifespan,
        get_tool_input_schema=_input_schema(surface),
        on_list_tools=surface.list_tools,
        on_subscriptions_listen=ListenHandler(bus),
    )
    # Registered as a plain request handler: it answers in the wire form (``to_call_result``).
    server.add_request_handler("tools/call", CallToolRequestParams, surface.call_tool)
    server.middleware.append(surface)
    return server


def _input_schema(surface: McpSurface) -> Callable[[str], dict[str, Any] | None]:
    """For the SDK's check of ``Mcp-Param`` headers (streamable HTTP, 2026 era)."""

    def lookup(name: str) -> dict[str, Any] | None:
        spec = surface.pipeline.specs.get(name)
        return surface.tool(spec).input_schema if spec is not None else None

    return lookup


async def announce_list_changed(bus: InMemorySubscriptionBus, surface: McpSurface) -> None:
    """Tell every connected client that the tool list changed, in its own era's way."""
    await bus.publish(ToolsListChanged())
    await surface.tell_legacy_sessions()

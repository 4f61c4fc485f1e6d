"""The governed pipeline: the only path a tool call can take.

It runs as server middleware around every ``tools/call`` and ``tools/list``: identify the
principal → take the manifest in force → validate the input strictly → decide → run the tool →
audit. A call the policy refuses never reaches the tool; a call whose audit row cannot be made
durable returns an error instead of its result. ``tools/list`` is filtered so a principal only
sees what it may call.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from mopsgate.connectors.http import upstream_calls
from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.errors import (
    AuditUnavailable,
    FloorViolation,
    GovernanceError,
    InvalidInput,
    NotPermitted,
    RateLimited,
    UnknownPrincipal,
)
from mopsgate.governance.policy import Decision, decide, rate_limit, visible_tools
from mopsgate.governance.ports import AuditSink
from mopsgate.server.call_rate import CallRate
from mopsgate.server.errors import error_result, error_text, invalid_params
from mopsgate.server.manifest_holder import ManifestHolder
from mopsgate.tools.spec import CallNotes, Connectors, ToolContext, ToolInput, ToolSpec

log = logging.getLogger("mopsgate.pipeline")


@dataclass
class ActiveCall:
    """Handed from the pipeline to the registered tool function through a context variable."""

    spec: ToolSpec[Any, Any]
    args: ToolInput
    ctx: ToolContext
    error: GovernanceError | None = None


ACTIVE_CALL: contextvars.ContextVar[ActiveCall | None] = contextvars.ContextVar(
    "mopsgate_active_call", default=None
)

PrincipalResolver = Callable[[Any], str | None]
_IN_TOOL_DENIALS = (NotPermitted, RateLimited, FloorViolation)


def _client_info(ctx: Any) -> tuple[str | None, str | None]:
    params = getattr(ctx.session, "client_params", None)
    info = getattr(params, "client_info", None)
    return getattr(info, "name", None), getattr(info, "version", None)


def describe_validation(tool: str, exc: ValidationError) -> InvalidInput:
    problems = []
    for err in exc.errors()[:8]:
        loc = ".".join(str(p) for p in err["loc"]) or "(arguments)"
        msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        problems.append(f"{loc}: {msg}")
    return InvalidInput(
        f"invalid arguments for {tool}: " + "; ".join(problems) + ".",
        hint="Fix the arguments to match the tool's input schema and call again; "
        "nothing was changed.",
    )


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


def _verdict(active: ActiveCall, decision: Decision, is_error: bool) -> dict[str, Any]:
    """Audit fields of a call that ran. A policy refusal made inside the tool (record cap,
    hourly rate, compliance floor, unwritable field) is a denial under its own rule, not an
    allowed call that happened to fail."""
    error = active.error
    denial = error if isinstance(error, _IN_TOOL_DENIALS) else None
    return dict(
        decision="denied" if denial else "allowed",
        rule_id=denial.rule_id if denial and denial.rule_id else decision.rule_id,
        reason=denial.message[:500] if denial else decision.reason,
        outcome="denied" if denial else ("error" if is_error else "ok"),
        error_code=error.code if error else ("error" if is_error else None),
        result_summary=(error_text(error) if error else active.ctx.notes.summary)[:500],
    )


class GovernedPipeline:
    def __init__(
        self,
        *,
        holder: ManifestHolder,
        audit: Callable[[], AuditSink],
        connectors: Connectors,
        specs: dict[str, ToolSpec[Any, Any]],
        transport: str,
        resolve_principal: PrincipalResolver,
        services: dict[str, Any] | None = None,
        call_rate: CallRate,
    ) -> None:
        self.holder = holder
        self.audit = audit
        self.connectors = connectors
        self.specs = specs
        self.transport = transport
        self.resolve_principal = resolve_principal
        self.services = services if services is not None else {}
        # connection -> a session on it; forgotten when the connection ends (see below)
        self.legacy_sessions: dict[Any, Any] = {}
        self.call_rate = call_rate

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        if ctx.method == "tools/call":
            return await self.call_tool(ctx, call_next)
        if ctx.method == "tools/list":
            self._remember_session(ctx)
            return await self.list_tools(ctx, call_next)
        return await call_next(ctx)

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

    async def list_tools(self, ctx: Any, call_next: Any) -> Any:
        result = await call_next(ctx)
        manifest, _ = await self.holder.current()
        principal = self.resolve_principal(ctx)
        allowed = (
            visible_tools(manifest, principal)
            if principal and principal in manifest.principals
            else frozenset()
        )
        if isinstance(result, dict):
            result = dict(result)
            result["tools"] = [t for t in result.get("tools", []) if t.get("name") in allowed]
        return result

    async def call_tool(self, ctx: Any, call_next: Any) -> Any:
        started = time.perf_counter()
        version = str(ctx.protocol_version)
        params = ctx.params if isinstance(ctx.params, dict) else {}
        raw_name, raw_args = params.get("name"), params.get("arguments")
        name = raw_name if isinstance(raw_name, str) else ""
        manifest, digest = await self.holder.current()
        principal = self.resolve_principal(ctx)
        client_name, client_version = _client_info(ctx)
        event: dict[str, Any] = dict(
            kind="tool_call",
            principal=principal or "(unknown)",
            client_name=client_name,
            client_version=client_version,
            transport=self.transport,
            tool=name,
            arguments=raw_args if isinstance(raw_args, dict) else {},  # masked by the audit log
            manifest_digest=digest,
        )
        malformed = _malformed_call(raw_name, raw_args)
        if malformed is not None:
            await self._finish_refused(event, malformed, started, version)
            raise invalid_params(malformed)
        try:
            admitted = self._identify(manifest, principal)
            await self.call_rate.admit(admitted, rate_limit(manifest, admitted).calls_per_minute)
        except GovernanceError as refusal:  # not counted toward the rate: nothing ran
            return await self._finish_refused(event, refusal, started, version)
        try:  # from here on the call counts toward the principal's calls per minute
            return await self._call_admitted(ctx, call_next, event, started, admitted, manifest)
        finally:
            self.call_rate.release(admitted)

    async def _call_admitted(
        self,
        ctx: Any,
        call_next: Any,
        event: dict[str, Any],
        started: float,
        principal: str,
        manifest: Any,
    ) -> Any:
        version = str(ctx.protocol_version)
        name = str(event["tool"])
        spec = self.specs.get(name)
        try:
            args, decision = self._admit(manifest, principal, name, spec, event["arguments"])
        except GovernanceError as refusal:
            return await self._finish_refused(event, refusal, started, version, count_call=True)
        assert spec is not None
        tool_ctx = ToolContext(
            principal=principal,
            manifest=manifest,
            manifest_digest=str(event["manifest_digest"]),
            connectors=self.connectors,
            notes=CallNotes(connector=args.target().connector),
            services=self.services,
            transport=self.transport,
        )
        active = ActiveCall(spec, args, tool_ctx)
        try:
            result, calls = await self._run(ctx, call_next, active)
        except MCPError as exc:  # the SDK refused the request itself: still one audit row
            rejected = InvalidInput(
                f"the request was refused: {exc.message}",
                details={"connector": tool_ctx.notes.connector},
            )
            await self._finish_refused(event, rejected, started, version, count_call=True)
            raise
        is_error = bool(result.get("isError")) if isinstance(result, dict) else False
        notes = tool_ctx.notes
        event.update(
            _verdict(active, decision, is_error),
            connector=notes.connector,
            upstream_calls=calls,
            change_id=notes.change_id,
        )
        try:
            await self._write(event, started, count_call=True)
        except AuditUnavailable as exc:
            return error_result(exc, version)
        return result

    async def _run(self, ctx: Any, call_next: Any, active: ActiveCall) -> tuple[Any, int]:
        """Run the tool with its admitted arguments, counting the vendor calls it makes."""
        counter = [0]
        token_calls = upstream_calls.set(counter)
        token_active = ACTIVE_CALL.set(active)
        try:
            result = await call_next(ctx)
        finally:
            ACTIVE_CALL.reset(token_active)
            upstream_calls.reset(token_calls)
        return result, counter[0]

    @staticmethod
    def _identify(manifest: Any, principal: str | None) -> str:
        if principal is None or principal not in manifest.principals:
            raise UnknownPrincipal(
                f"principal {principal or '(none)'!r} is not in the permission manifest, so "
                "every call is refused.",
                hint="Ask the platform owner to add this principal to permissions.toml, or "
                "connect with a token issued for a listed principal.",
                rule_id="unknown-principal",
            )
        return principal

    def _admit(
        self,
        manifest: Any,
        principal: str,
        name: str,
        spec: ToolSpec[Any, Any] | None,
        raw_args: Any,
    ) -> tuple[ToolInput, Decision]:
        """Validate and decide; raises the refusal to audit and return."""
        if spec is None:
            visible = sorted(visible_tools(manifest, principal))
            raise NotPermitted(
                f"there is no tool named {name!r} you may use.",
                hint=f"Tools available to you: {', '.join(visible) or 'none'}.",
                rule_id="unknown-tool",
            )
        try:
            args = spec.input_model.model_validate(raw_args if isinstance(raw_args, dict) else {})
        except ValidationError as exc:
            raise describe_validation(name, exc) from None
        target = args.target()
        connector = target.connector
        decision = decide(manifest, principal, name, connector, target.object)
        if not decision.allowed:
            raise NotPermitted(
                f"{name} is not permitted for {principal}: {decision.reason}",
                hint="Call my_permissions to see what you may do, or ask the "
                "manifest owner for a grant.",
                rule_id=decision.rule_id,
                details={"connector": connector},
            )
        return args, decision

    async def _finish_refused(
        self,
        event: dict[str, Any],
        refusal: GovernanceError,
        started: float,
        version: str,
        *,
        count_call: bool = False,
    ) -> Any:
        denied = isinstance(refusal, (NotPermitted, RateLimited))
        event.update(
            connector=refusal.details.get("connector"),
            decision="denied" if denied else "error",
            rule_id=refusal.rule_id,
            reason=refusal.message[:500],
            outcome="denied" if denied else "error",
            error_code=refusal.code,
            result_summary=error_text(refusal)[:500],
        )
        try:
            await self._write(event, started, count_call=count_call)
        except AuditUnavailable as exc:
            return error_result(exc, version)
        return error_result(refusal, version)

    async def _write(
        self, event: dict[str, Any], started: float, *, count_call: bool = False
    ) -> None:
        """Append the call's row; ``count_call`` also counts it toward the principal's calls
        per minute, in the same transaction (see ``governance/call_window.py``)."""
        event["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        try:
            await self.audit().append(AuditEvent(**event), count_call=count_call)
        except AuditUnavailable:
            raise
        except Exception as exc:  # any audit failure fails the call closed
            log.error("audit write failed: %s", exc)
            raise AuditUnavailable(
                "the audit log could not be written, so the call was refused.",
                hint="Check the disk and the permissions of the mopsgate state directory.",
            ) from exc

"""The governed pipeline: the only path a tool call can take.

``Pipeline.call`` is one direct sequence: take the manifest in force → identify the principal →
count the call against its rate → find the tool → validate the arguments (once, with the tool's
own input model) → decide (once, on the target the arguments name) → run the handler with a
``ToolContext`` → audit. It returns ``Answered`` or ``Refused`` and never raises: a call the
policy refuses never reaches the tool, and a call whose audit row cannot be made durable is
refused instead of answered. It knows nothing of MCP; ``server/surface.py`` turns requests into
calls and outcomes into results.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from mopsgate.crm.errors import ConfigError, VendorError
from mopsgate.crm.metering import metering
from mopsgate.governance.audit_chain import MAX_RECORDS, AuditEvent
from mopsgate.governance.caller import Caller
from mopsgate.governance.data_access import record_refs
from mopsgate.governance.errors import (
    AuditUnavailable,
    FloorViolation,
    GovernanceError,
    InvalidInput,
    NotPermitted,
    RateLimited,
    UnknownPrincipal,
)
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.policy import Decision, decide, rate_limit, visible_tools
from mopsgate.governance.ports import AuditSink
from mopsgate.governance.record_limits import limits_note
from mopsgate.server.call_rate import CallRate
from mopsgate.server.errors import error_text, from_vendor, internal_error
from mopsgate.server.manifest_holder import ManifestHolder
from mopsgate.tools.spec import CallNotes, Connectors, Services, Spec, ToolContext, ToolInput

log = logging.getLogger("mopsgate.pipeline")

_IN_TOOL_DENIALS = (NotPermitted, RateLimited, FloorViolation)


@dataclass(frozen=True)
class Answered:
    output: BaseModel


@dataclass(frozen=True)
class Refused:
    error: GovernanceError


CallOutcome = Answered | Refused


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


def _verdict(error: GovernanceError | None, decision: Decision, notes: CallNotes) -> dict[str, Any]:
    """Audit fields of a call that ran. A policy refusal made inside the tool (record cap,
    hourly rate, compliance floor, unwritable field) is a denial under its own rule, not an
    allowed call that happened to fail."""
    denial = error if isinstance(error, _IN_TOOL_DENIALS) else None
    return dict(
        decision="denied" if denial else "allowed",
        rule_id=denial.rule_id if denial and denial.rule_id else decision.rule_id,
        reason=denial.message[:500] if denial else decision.reason,
        outcome="denied" if denial else ("error" if error else "ok"),
        error_code=error.code if error else None,
        result_summary=(error_text(error) if error else notes.summary)[:500],
    )


def _data_access(notes: CallNotes, output: BaseModel, event: dict[str, Any]) -> tuple[str, ...]:
    """The records the call returned (every reference in its result) or, for a proposal, the
    records its plan targets; bounded, with the number left out said in the summary."""
    if notes.records is not None:
        refs, omitted = notes.records[:MAX_RECORDS], max(0, len(notes.records) - MAX_RECORDS)
    else:
        refs, omitted = record_refs(output.model_dump(mode="json"))
    if omitted:
        event["result_summary"] = f"{event['result_summary']} ({omitted} more records not listed)"
    return refs


def _ran_unaudited(exc: AuditUnavailable, tool: str, change_id: str) -> AuditUnavailable:
    """The outcome row of a call that touched a change could not be written. The call ran (an
    apply may have written to the vendor): withhold its result, but never say nothing happened,
    or the assistant would try again (catalogue L-07)."""
    cause = exc.message.partition(" Cause: ")[2]
    return AuditUnavailable(
        f"{tool} ran, but its audit row could not be written, so its result is withheld"
        + (f". Cause: {cause}" if cause else "."),
        hint=f"Do not repeat the call: what it did stands. Once the audit log can be written "
        f"again (free space, check permissions), get_change {change_id} shows exactly what "
        "happened, including what the vendor was written.",
        details={**exc.details, "change_id": change_id},
    )


def _as_json(raw_args: object) -> str:
    """The arguments as the JSON they arrived as. They are validated strictly in JSON mode, so
    no type is coerced (``"5"`` is not a number, ``"false"`` not a boolean, ``5.0`` not an
    integer: catalogue I-06) while what JSON has no type for (a date) is still read from its
    text."""
    try:
        return json.dumps(raw_args, allow_nan=False)
    except (TypeError, ValueError):  # not JSON at all: refused as invalid, like any bad type
        return "null"


def _identify(manifest: Manifest, principal: str | None) -> str:
    if principal is None or principal not in manifest.principals:
        raise UnknownPrincipal(
            f"principal {principal or '(none)'!r} is not in the permission manifest, so "
            "every call is refused.",
            hint="Ask the platform owner to add this principal to permissions.toml, or "
            "connect with a token issued for a listed principal.",
            rule_id="unknown-principal",
        )
    return principal


class Pipeline:
    def __init__(
        self,
        *,
        holder: ManifestHolder,
        specs: Mapping[str, Spec],
        audit: Callable[[], AuditSink],
        call_rate: CallRate,
        connectors: Connectors,
        services: Callable[[], Services | None],
    ) -> None:
        self.holder = holder
        self.specs = specs
        self.audit = audit
        self.call_rate = call_rate
        self.connectors = connectors
        self.services = services

    async def visible(self, caller: Caller) -> list[Spec]:
        """The tools this caller may call (an unknown principal sees none)."""
        manifest, _ = await self.holder.current()
        principal = caller.principal
        if principal is None or principal not in manifest.principals:
            return []
        allowed = visible_tools(manifest, principal)
        return [spec for spec in self.specs.values() if spec.name in allowed]

    async def limits(self, caller: Caller) -> dict[str, str]:
        """Tool -> the caller's own record limits, said in the tool's listing (the schemas
        carry only the hard maximum one change may hold)."""
        manifest, _ = await self.holder.current()
        principal = caller.principal
        if principal is None or principal not in manifest.principals:
            return {}
        notes = {name: limits_note(manifest, principal, name) for name in self.specs}
        return {name: note for name, note in notes.items() if note}

    async def call(self, caller: Caller, name: str, raw_args: object) -> CallOutcome:
        started = time.perf_counter()
        manifest, digest = await self.holder.current()
        event = self._event(caller, name, raw_args, digest)
        try:
            principal = _identify(manifest, caller.principal)
            await self.call_rate.admit(principal, rate_limit(manifest, principal).calls_per_minute)
        except GovernanceError as refusal:  # not counted toward the rate: nothing ran
            return await self._refused(event, refusal, started)
        try:  # from here on the call counts toward the principal's calls per minute
            return await self._call_admitted(caller, principal, manifest, event, started)
        finally:
            self.call_rate.release(principal)

    async def refuse(
        self, caller: Caller, name: str, raw_args: object, error: InvalidInput
    ) -> None:
        """Audit a request refused before it became a call (a malformed ``tools/call``); the
        surface answers it with the protocol's error. Raises AuditUnavailable."""
        started = time.perf_counter()
        _, digest = await self.holder.current()
        event = self._event(caller, name, raw_args, digest)
        outcome = await self._refused(event, error, started)
        if outcome.error is not error:
            raise outcome.error

    @staticmethod
    def _event(caller: Caller, name: str, raw_args: object, digest: str) -> dict[str, Any]:
        return dict(
            kind="tool_call",
            principal=caller.principal or "(unknown)",
            client_name=caller.client_name,
            client_version=caller.client_version,
            transport=caller.transport,
            tool=name,
            arguments=raw_args if isinstance(raw_args, dict) else {},  # masked by the audit log
            manifest_digest=digest,
        )

    async def _call_admitted(
        self,
        caller: Caller,
        principal: str,
        manifest: Manifest,
        event: dict[str, Any],
        started: float,
    ) -> CallOutcome:
        name = str(event["tool"])
        spec = self.specs.get(name)
        try:
            args, decision = self._admit(manifest, principal, name, spec, event["arguments"])
        except GovernanceError as refusal:
            return await self._refused(event, refusal, started, count_call=True)
        assert spec is not None
        ctx = ToolContext(
            principal=principal,
            manifest=manifest,
            manifest_digest=str(event["manifest_digest"]),
            connectors=self.connectors,
            notes=CallNotes(connector=args.target().connector),
            services=self.services(),
            transport=caller.transport,
            use_case=decision.use_case,
        )
        output, error, calls = await self._run(spec, ctx, args)
        event.update(
            _verdict(error, decision, ctx.notes),
            connector=ctx.notes.connector,
            upstream_calls=calls,
            change_id=ctx.notes.change_id,
            use_case=ctx.notes.use_case or ctx.use_case,
        )
        if output is not None and error is None:
            event["records"] = _data_access(ctx.notes, output, event)
        try:
            await self._write(event, started, count_call=True)
        except AuditUnavailable as exc:
            change_id = ctx.notes.change_id
            return Refused(exc if change_id is None else _ran_unaudited(exc, name, change_id))
        if error is not None or output is None:
            return Refused(error or internal_error(name, RuntimeError("no result")))
        return Answered(output)

    @staticmethod
    async def _run(
        spec: Spec, ctx: ToolContext, args: ToolInput
    ) -> tuple[BaseModel | None, GovernanceError | None, int]:
        """Run the handler, counting the vendor calls it makes; every failure becomes the
        typed refusal the caller is told and the audit row records."""
        with metering() as meter:
            try:
                output = await spec.run(ctx, args)
                return output, None, meter.calls
            except GovernanceError as exc:
                return None, exc, meter.calls
            except (VendorError, ConfigError) as exc:
                return None, from_vendor(exc), meter.calls
            except Exception as exc:
                return None, internal_error(spec.name, exc), meter.calls

    @staticmethod
    def _admit(
        manifest: Manifest,
        principal: str,
        name: str,
        spec: Spec | None,
        raw_args: object,
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
            args: ToolInput = spec.input_model.model_validate_json(_as_json(raw_args), strict=True)
        except ValidationError as exc:
            raise describe_validation(name, exc) from None
        target = args.target()
        decision = decide(
            manifest, principal, name, target.connector, target.object, use_case=args.use_case
        )
        if not decision.allowed:
            hint = (
                "Call again with use_case set to one of: " + ", ".join(decision.candidates) + "."
                if decision.candidates
                else "Call my_permissions to see what you may do, or ask the "
                "manifest owner for a grant."
            )
            raise NotPermitted(
                f"{name} is not permitted for {principal}: {decision.reason}",
                hint=hint,
                rule_id=decision.rule_id,
                details={
                    "connector": target.connector,
                    "use_case": decision.use_case,
                    "candidates": list(decision.candidates),
                },
            )
        return args, decision

    async def _refused(
        self,
        event: dict[str, Any],
        refusal: GovernanceError,
        started: float,
        *,
        count_call: bool = False,
    ) -> Refused:
        denied = isinstance(refusal, (NotPermitted, RateLimited))
        event.update(
            connector=refusal.details.get("connector"),
            use_case=refusal.details.get("use_case"),
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
            return Refused(exc)
        return Refused(refusal)

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

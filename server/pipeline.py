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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from pydantic import BaseModel, ValidationError

from mopsgate.crm.errors import ConfigError, VendorError
from mopsgate.crm.metering import Meter, metering
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
from mopsgate.governance.progress import Progress
from mopsgate.governance.record_limits import limits_note
from mopsgate.server.call_rate import CallRate
from mopsgate.server.errors import error_text, from_vendor, internal_error
from mopsgate.server.manifest_holder import ManifestHolder
from mopsgate.tools.spec import (
    CallNotes,
    Connectors,
    Services,
    Spec,
    Target,
    ToolContext,
    ToolInput,
)

if TYPE_CHECKING:  # made with the first call (see Pipeline.snapshots)
    from mopsgate.tools.snapshots import Snapshots

log = logging.getLogger("mopsgate.pipeline")

_IN_TOOL_DENIALS = (NotPermitted, RateLimited, FloorViolation)
# json.dumps(..., allow_nan=False), with its encoder built once instead of per call.
_STRICT_JSON = json.JSONEncoder(allow_nan=False)


@dataclass(frozen=True)
class Answered:
    """A call that ran and whose row is durable. ``data`` is the output as JSON, made once
    before the row was written (its record references are the row's data-access record), so
    an output that cannot be serialised is an audited error, never a row saying "ok" for a
    result the client could not be sent."""

    output: BaseModel
    data: dict[str, Any]


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


def _data_access(notes: CallNotes, data: dict[str, Any], event: dict[str, Any]) -> tuple[str, ...]:
    """The records the call returned (every reference in its result) or, for a proposal, the
    records its plan targets; bounded, with the number left out said in the summary."""
    if notes.records is not None:
        refs, omitted = notes.records[:MAX_RECORDS], max(0, len(notes.records) - MAX_RECORDS)
    else:
        refs, omitted = record_refs(data)
    if omitted:
        event["result_summary"] = f"{event['result_summary']} ({omitted} more records not listed)"
    return refs


def _ran_unaudited(
    exc: AuditUnavailable, tool: str, change_id: str, *, wrote_nothing: bool = False
) -> AuditUnavailable:
    """The outcome row of a call that touched a change could not be written. The call ran (an
    apply may have written to the vendor): withhold its result, but never say nothing happened,
    or the assistant would try again (catalogue L-07). Unless it failed before making a single
    vendor request (an apply refused at its claim because the log would not take its row): then
    "what it did stands" would be false, and the assistant needs to know it may try again."""
    cause = exc.message.partition(" Cause: ")[2]
    cause_text = f". Cause: {cause}" if cause else "."
    if wrote_nothing:
        return AuditUnavailable(
            f"{tool} failed before making any request to the vendor, so nothing was written "
            f"there, and its audit row could not be written either" + cause_text,
            hint=f"Once the audit log can be written again (free space, check permissions), "
            f"get_change {change_id} shows whether the change can still be applied; if it "
            "can, make the call again.",
            details={**exc.details, "change_id": change_id, "vendor_requests": 0},
        )
    return AuditUnavailable(
        f"{tool} ran, but its audit row could not be written, so its result is withheld"
        + cause_text,
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
        return _STRICT_JSON.encode(raw_args)
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


_CANCELLED_SUMMARY = (
    "cancelled before it finished: the client cancelled the request or its connection "
    "dropped, and no result was sent"
)


@dataclass
class _Call:
    """One call's audit row in the making. ``submitted`` once the row is handed to the audit
    writer: a cancellation after that must not write a second row (the first one is committed
    whether or not anyone still waits for it)."""

    event: dict[str, Any]
    started: float = field(default_factory=time.perf_counter)
    counted: bool = False  # counts toward the principal's calls per minute
    submitted: bool = False
    ctx: ToolContext | None = None
    meter: Meter | None = None


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
        self._snapshots: Snapshots | None = None

    def snapshots(self) -> Snapshots:
        """Whole-database reads kept for their later pages, shared by this server's calls;
        made with the first call (a listing imports no tool module)."""
        if self._snapshots is None:
            from mopsgate.tools.snapshots import Snapshots

            self._snapshots = Snapshots()
        return self._snapshots

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

    async def call(
        self, caller: Caller, name: str, raw_args: object, progress: Progress | None = None
    ) -> CallOutcome:
        """Never raises but for the call's own cancellation (the client cancelled it, or its
        connection dropped), which is audited first, with what the call did until then: a
        call that leaves no row is exactly what the audit log exists to rule out.
        ``progress`` is handed to the tool: long work tells it how far it got."""
        call = _Call(self._event(caller, name, raw_args, self.holder.digest))
        try:
            return await self._govern(caller, call, progress)
        except anyio.get_cancelled_exc_class():
            if not call.submitted:
                with anyio.CancelScope(shield=True):
                    await self._audit_cancelled(call)
            raise

    async def _govern(
        self, caller: Caller, call: _Call, progress: Progress | None = None
    ) -> CallOutcome:
        name = str(call.event["tool"])
        try:
            manifest, digest = await self.holder.current()
            call.event["manifest_digest"] = digest
            principal = _identify(manifest, caller.principal)
            await self.call_rate.admit(principal, rate_limit(manifest, principal).calls_per_minute)
        except GovernanceError as refusal:  # not counted toward the rate: nothing ran
            return await self._refused(call, refusal)
        except Exception as exc:  # a fault, not a refusal: audited all the same
            return await self._refused(call, internal_error(name, exc))
        call.counted = True  # from here on the call counts toward the principal's rate
        try:
            return await self._call_admitted(caller, principal, manifest, call, progress)
        finally:
            self.call_rate.release(principal)

    async def refuse(
        self, caller: Caller, name: str, raw_args: object, error: InvalidInput
    ) -> None:
        """Audit a request refused before it became a call (a malformed ``tools/call``); the
        surface answers it with the protocol's error. Raises AuditUnavailable."""
        call = _Call(self._event(caller, name, raw_args, self.holder.digest))
        try:
            call.event["manifest_digest"] = (await self.holder.current())[1]
        except Exception as exc:  # the refusal is what gets audited; the last digest will do
            log.error("manifest check failed while auditing a refused request: %s", exc)
        outcome = await self._refused(call, error)
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
        call: _Call,
        progress: Progress | None = None,
    ) -> CallOutcome:
        event = call.event
        name = str(event["tool"])
        spec = self.specs.get(name)
        try:
            args, target, decision = self._admit(
                manifest, principal, name, spec, event["arguments"]
            )
            assert spec is not None
            ctx = ToolContext(
                principal=principal,
                manifest=manifest,
                manifest_digest=str(event["manifest_digest"]),
                connectors=self.connectors,
                notes=CallNotes(connector=target.connector),
                services=self.services(),
                transport=caller.transport,
                use_case=decision.use_case,
                progress=progress,
                snapshots=self.snapshots(),
            )
        except GovernanceError as refusal:
            return await self._refused(call, refusal)
        except Exception as exc:  # a fault in validating or deciding: audited, refused
            return await self._refused(call, internal_error(name, exc))
        event.update(decision="allowed", rule_id=decision.rule_id, reason=decision.reason)
        call.ctx = ctx
        with metering() as call.meter:
            output, error = await self._run(spec, ctx, args)
        self._note_run(call)
        data: dict[str, Any] | None = None
        try:
            event.update(_verdict(error, decision, ctx.notes))
            if output is not None and error is None:
                data = output.model_dump(mode="json", by_alias=True)
                event["records"] = _data_access(ctx.notes, data, event)
        except Exception as exc:  # e.g. an output that cannot be serialised: no result
            error, data = internal_error(name, exc), None
            event.pop("records", None)
            event.update(_verdict(error, decision, ctx.notes))
        try:
            await self._write(call)
        except AuditUnavailable as exc:
            change_id = ctx.notes.change_id
            if change_id is None:
                return Refused(exc)
            # The change a proposal stored is withdrawn: nothing on record asked for it.
            services = ctx.services
            told = (
                None
                if services is None
                else await services.proposer.unaudited(change_id, name, exc)
            )
            silent = error is not None and call.meter is not None and call.meter.calls == 0
            return Refused(told or _ran_unaudited(exc, name, change_id, wrote_nothing=silent))
        if error is not None or output is None or data is None:
            return Refused(error or internal_error(name, RuntimeError("no result")))
        return Answered(output, data)

    @staticmethod
    def _note_run(call: _Call) -> None:
        """What the handler did, as far as it got: the connector and change it named, the use
        case it ran under and the vendor calls it made."""
        ctx, event = call.ctx, call.event
        if ctx is not None:
            event.update(
                connector=ctx.notes.connector,
                change_id=ctx.notes.change_id,
                use_case=ctx.notes.use_case or ctx.use_case,
            )
        if call.meter is not None:
            event["upstream_calls"] = call.meter.calls

    @staticmethod
    async def _run(
        spec: Spec, ctx: ToolContext, args: ToolInput
    ) -> tuple[BaseModel | None, GovernanceError | None]:
        """Run the handler; every failure becomes the typed refusal the caller is told and the
        audit row records (its cancellation goes on up, to be audited by :meth:`call`)."""
        try:
            return await spec.run(ctx, args), None
        except GovernanceError as exc:
            return None, exc
        except (VendorError, ConfigError) as exc:
            return None, from_vendor(exc)
        except Exception as exc:
            return None, internal_error(spec.name, exc)

    @staticmethod
    def _admit(
        manifest: Manifest,
        principal: str,
        name: str,
        spec: Spec | None,
        raw_args: object,
    ) -> tuple[ToolInput, Target, Decision]:
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
        return args, target, decision

    async def _refused(self, call: _Call, refusal: GovernanceError) -> Refused:
        denied = isinstance(refusal, (NotPermitted, RateLimited))
        call.event.update(
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
            await self._write(call)
        except AuditUnavailable as exc:
            return Refused(exc)
        return Refused(refusal)

    async def _audit_cancelled(self, call: _Call) -> None:
        """The row of a call cancelled before its row was handed to the writer. The caller is
        gone, so a failure to write it can only be logged."""
        self._note_run(call)
        change_id = call.event.get("change_id")
        summary = _CANCELLED_SUMMARY + (
            f"; get_change {change_id} shows what it did" if change_id else ""
        )
        call.event.setdefault("decision", "n/a")  # cancelled before it was decided
        call.event.update(outcome="cancelled", error_code="cancelled", result_summary=summary)
        call.event.pop("records", None)
        try:
            await self._write(call)
        except AuditUnavailable as exc:
            log.error(
                "the audit row of a cancelled %s call was not written: %s",
                call.event["tool"],
                exc.message,
            )

    async def _write(self, call: _Call) -> None:
        """Append the call's row; a call admitted past the rate check also counts toward the
        principal's calls per minute, in the same transaction (``governance/call_window.py``)."""
        event = call.event
        event["duration_ms"] = round((time.perf_counter() - call.started) * 1000, 3)
        try:
            row = AuditEvent(**event)
            call.submitted = True
            await self.audit().append(row, count_call=call.counted)
        except AuditUnavailable:
            raise
        except Exception as exc:  # any audit failure fails the call closed
            log.error("audit write failed: %s", exc)
            raise AuditUnavailable(
                "the audit log could not be written, so the call was refused.",
                hint="Check the disk and the permissions of the mopsgate state directory.",
            ) from exc

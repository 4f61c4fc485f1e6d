"""Recording a reviewer's decision: the one place the CLI and the console both go through.

A decision is signed, checked, stored and audited here, and nowhere else, so the two ways of
deciding cannot drift apart in what they audit. Every attempt leaves exactly one audit row:
the decision's, committed in the same transaction as the decision itself (if the row cannot be
written, the decision is not stored: fail closed), or the refusal's, whatever refused it — a
governance rule, a missing key, a statement that cannot be built, or an unexpected failure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from pydantic import JsonValue

from mopsgate.governance.approvals import approve, reject
from mopsgate.governance.audit_chain import AuditEvent, Transport
from mopsgate.governance.change_model import Change
from mopsgate.governance.decision_proof import SignedDecision
from mopsgate.governance.errors import GovernanceError, InvalidInput
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.ports import AuditSink, ChangeStore
from mopsgate.governance.review_events import decision_event


def as_refusal(exc: Exception) -> GovernanceError:
    """Any failure as the refusal the reviewer is told and the audit row records: a
    governance refusal as it is, a malformed value as bad input, anything else named."""
    if isinstance(exc, GovernanceError):
        return exc
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    if isinstance(exc, ValueError):
        return InvalidInput(f"the decision cannot be made: {first}", hint="correct it and retry")
    return GovernanceError(
        f"the decision could not be recorded ({type(exc).__name__}: {first})",
        hint="nothing was recorded; retry, and report it if it persists",
    )


async def refuse(
    audit: AuditSink,
    *,
    action: str,
    change_id: str | None,
    reviewer: str | None,
    transport: Transport,
    arguments: Mapping[str, JsonValue],
    error: GovernanceError,
    signed: SignedDecision | None = None,
    change: Change | None = None,
) -> None:
    """The audit row of a refused decision (AuditUnavailable if it cannot be written)."""
    await audit.append(
        decision_event(
            action=action,
            change_id=change_id,
            reviewer=reviewer,
            transport=transport,
            arguments=arguments,
            signed=signed,
            error=error,
            use_case=change.use_case if change is not None else None,
        )
    )


async def record(
    store: ChangeStore,
    audit: AuditSink,
    manifest: Manifest,
    *,
    action: str,
    change_id: str,
    reviewer: str,
    transport: Transport,
    arguments: Mapping[str, JsonValue],
    make: Callable[[Change], SignedDecision],
    now: datetime | None = None,
) -> Change:
    """Sign (``make``: from the stored change to its signed decision), check and store one
    decision with its audit row; on any failure audit the refusal and raise it as a
    :class:`GovernanceError`."""
    signed: SignedDecision | None = None
    found: Change | None = None
    try:
        change = found = await store.require(change_id)
        signed = make(change)
        decided = signed

        def row(done: Change) -> AuditEvent:
            return decision_event(
                action=action,
                change_id=change_id,
                reviewer=reviewer,
                transport=transport,
                arguments=arguments,
                signed=decided,
                change=done,
            )

        act = approve if signed.statement.decision == "approve" else reject
        return await act(store, manifest, signed, now=now, audit=row)
    except Exception as exc:
        error = as_refusal(exc)
        await refuse(
            audit,
            action=action,
            change_id=change_id,
            reviewer=reviewer,
            transport=transport,
            arguments=arguments,
            error=error,
            signed=signed,
            change=found,
        )
        if error is exc:
            raise
        raise error from exc

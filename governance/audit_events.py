"""Audit rows the core writes on its own behalf (the pipeline writes one per call)."""

from __future__ import annotations

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.caller import Caller
from mopsgate.governance.change_model import Change


def apply_intent_event(caller: Caller, change: Change, digest: str, what: str) -> AuditEvent:
    """Written before an upstream write, so a write never happens without its row."""
    return AuditEvent(
        kind="change",
        principal=caller.principal or "(unknown)",
        transport=caller.transport,
        tool="apply_change",
        connector=change.connector,
        decision="allowed",
        outcome="ok",
        reason=what,
        change_id=change.id,
        manifest_digest=digest,
        use_case=change.use_case,
        result_summary=f"{what}: {change.plan.operation}, "
        f"{len(change.plan.effective_records)} records",
    )

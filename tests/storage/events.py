"""Audit events as the pipeline writes them: allowed, denied, failed."""

from __future__ import annotations

from typing import Any

from mopsgate.governance.audit_chain import AuditEvent


def allowed(**kw: Any) -> AuditEvent:
    base: dict[str, Any] = dict(
        kind="tool_call",
        principal="alice",
        client_name="claude-desktop",
        client_version="1.4.2",
        transport="stdio",
        tool="marketo.get_leads",
        connector="marketo",
        arguments={"filter_type": "id", "values": [1, 2, 3]},
        decision="allowed",
        rule_id="read-leads",
        reason="rule read-leads allows alice to read leads",
        outcome="ok",
        result_summary="3 records",
        upstream_calls=1,
        duration_ms=12.5,
        manifest_digest="d" * 64,
    )
    base.update(kw)
    return AuditEvent(**base)


def denied(**kw: Any) -> AuditEvent:
    return allowed(
        decision="denied",
        rule_id="deny-delete",
        reason="explicit deny wins",
        outcome="denied",
        error_code="not_permitted",
        tool="marketo.delete_leads",
        upstream_calls=0,
        **kw,
    )


def errored(**kw: Any) -> AuditEvent:
    return allowed(outcome="error", error_code="upstream_error", decision="allowed", **kw)

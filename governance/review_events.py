"""The audit row of a review decision, the same from the CLI and the console.

An allowed decision's row carries the key fingerprint, the method (ed25519 or passkey), the
sha256 of the signed statement and the checklist answers, so the row alone ties the decision
to the exact bytes the reviewer signed; ``mopsgate audit verify`` checks the stored proof
against both. A refused decision's row carries the reason code that says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import JsonValue

from mopsgate.governance.audit_chain import AuditEvent, Transport
from mopsgate.governance.change_model import Change
from mopsgate.governance.change_story import ChangeStory
from mopsgate.governance.decision_proof import SignedDecision
from mopsgate.governance.errors import GovernanceError


def proof_arguments(signed: SignedDecision | None) -> dict[str, JsonValue]:
    if signed is None:
        return {}
    return {
        "key_fingerprint": signed.fingerprint,
        "method": signed.proof.method,
        "statement_sha256": signed.statement.digest_hex(),
        "plan_digest": signed.statement.plan_digest,
        "checklist": dict(signed.statement.checklist),
    }


def decision_event(
    *,
    action: str,
    change_id: str | None,
    reviewer: str | None,
    transport: Transport,
    arguments: Mapping[str, JsonValue],
    signed: SignedDecision | None = None,
    change: Change | None = None,
    error: GovernanceError | None = None,
    use_case: str | None = None,
) -> AuditEvent:
    """``use_case``: the change's, for a refusal (an allowed decision takes ``change``'s)."""
    base: dict[str, Any] = {
        "kind": "review",
        "principal": reviewer,
        "transport": transport,
        "tool": f"review {action}",
        "change_id": change_id,
        "arguments": {**arguments, **proof_arguments(signed)},
        "use_case": change.use_case if change is not None else use_case,
    }
    if error is not None:
        return AuditEvent(
            **base,
            decision="denied",
            outcome="refused",
            rule_id=error.rule_id,
            reason=error.message,
            error_code=str(error.details.get("reason_code", error.code)),
        )
    assert change is not None
    return AuditEvent(
        **base,
        decision="allowed",
        outcome="ok",
        connector=change.connector,
        manifest_digest=change.manifest_digest,
        result_summary=f"{action}: status now {change.status}",
    )


def view_event(
    *, tool: str, reviewer: str, change: Change, story: ChangeStory, page: int, pages: int,
    transport: Transport,
) -> AuditEvent:  # fmt: skip
    """A reviewer was shown one page of a change's people: that is personal-data access, so
    the row records whom (the data-access record), how many, and through which PII view."""
    shown = tuple(ref for ref, p in story.people.items() if p.found)
    return AuditEvent(
        kind="review",
        principal=reviewer,
        transport=transport,
        tool=tool,
        connector=change.connector,
        change_id=change.id,
        use_case=change.use_case,
        decision="n/a",
        outcome="ok",
        arguments={"page": page, "pii": story.pii},
        result_summary=f"page {page}/{pages}: {len(shown)} people shown ({story.pii})",
        records=shown,
    )

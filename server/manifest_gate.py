"""Where the server finds the approvals of a widening manifest edit: in the audit log, where
`mopsgate manifest approve` writes each one (``governance.manifest_approval``).

The log is only the carrier: every approval is checked again here, signature and key against
the manifest in force, so a row written by anyone other than a reviewer with a declared key —
or one approving another change — counts for nothing.
"""

from __future__ import annotations

from mopsgate.governance.audit_query import AuditQuery
from mopsgate.governance.change_model import utcnow
from mopsgate.governance.manifest_approval import (
    TOOL,
    ApprovalTally,
    SignedManifestApproval,
    approval_from_row,
    tally,
)
from mopsgate.governance.manifest_model import Manifest
from mopsgate.server.manifest_holder import Gate
from mopsgate.storage.api import AuditReader, Storage


async def stored_approvals(reader: AuditReader) -> list[SignedManifestApproval]:
    """Every manifest-change approval the audit log carries, oldest first."""
    out: list[SignedManifestApproval] = []
    async for row in reader.query(AuditQuery(tool=TOOL)):
        if row.outcome == "ok" and (signed := approval_from_row(row.arguments)) is not None:
            out.append(signed)
    return out


def storage_gate(storage: Storage) -> Gate:
    async def gate(in_force: Manifest, old: str, new: Manifest, new_digest: str) -> ApprovalTally:
        approvals = await stored_approvals(storage.audit_reader)
        return tally(in_force, new, old, new_digest, approvals, utcnow())

    return gate

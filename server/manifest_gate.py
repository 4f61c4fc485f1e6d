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
    VALID_FOR,
    ApprovalTally,
    SignedManifestApproval,
    approval_from_row,
    tally,
)
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.reviewer_proof import MAX_SKEW
from mopsgate.server.manifest_holder import Gate
from mopsgate.storage.api import AuditReader, Storage


async def stored_approvals(reader: AuditReader) -> list[SignedManifestApproval]:
    """The manifest-change approvals the audit log carries that are recent enough to count,
    oldest first. Only rows written since then are read (the log's time index), since a widening
    edit waiting for approval asks again every second or so, and the log may be years long."""
    out: list[SignedManifestApproval] = []
    since = utcnow() - VALID_FOR - MAX_SKEW
    async for row in reader.query(AuditQuery(tool=TOOL, since=since)):
        if row.outcome == "ok" and (signed := approval_from_row(row.arguments)) is not None:
            out.append(signed)
    return out


def storage_gate(storage: Storage) -> Gate:
    async def gate(in_force: Manifest, old: str, new: Manifest, new_digest: str) -> ApprovalTally:
        approvals = await stored_approvals(storage.audit_reader)
        return tally(in_force, new, old, new_digest, approvals, utcnow())

    return gate

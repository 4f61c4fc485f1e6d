"""Apply: exactly the approved plan, once, or nothing.

Order is the point: frozen? → token genuine and bound to this change, principal and manifest?
→ approved? → atomic claim (spends the token) → re-read every target and refuse as stale if
anything the plan saw has moved, consent included (``apply_drift``) → write through batch
endpoints, recording each record's outcome durably before the next batch (``apply_writes``), so
a crash or upstream failure leaves an exact account (``apply_failures``) and nothing is ever
written twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as default
from datetime import UTC, datetime

import anyio

from mopsgate.crm.connector import Connector
from mopsgate.crm.errors import VendorError
from mopsgate.governance import across
from mopsgate.governance.apply_drift import find_drift
from mopsgate.governance.apply_writes import work_units, write_change
from mopsgate.governance.audit_events import apply_intent_event
from mopsgate.governance.cadence import APPLY_TOOL, cadence_refusal
from mopsgate.governance.cadence import RULE_ID as REVIEW_OVERDUE
from mopsgate.governance.caller import Caller
from mopsgate.governance.change_model import Change, ChangeStatus, utcnow
from mopsgate.governance.confirm_token import Keyring, verify
from mopsgate.governance.errors import (
    ChangeRefused,
    NotPermitted,
    StaleChange,
    UpstreamFailure,
)
from mopsgate.governance.manifest_load import digest_matches
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.ports import AuditSink, ChangeStore
from mopsgate.governance.progress import Progress, Steps
from mopsgate.governance.record_locks import RecordLocks
from mopsgate.governance.recovering import settle_cancelled


def _refuse_if_review_overdue(manifest: Manifest, change: Change, now: datetime | None) -> None:
    """A use case whose review is overdue with on_overdue = propose_only (or deny) applies
    nothing until it is reviewed; the change stays approved and can be applied after."""
    today = (now or utcnow()).astimezone(UTC).date()
    why = cadence_refusal(manifest, change.use_case, APPLY_TOOL, today)
    if why is not None:
        raise NotPermitted(
            f"{change.id} is not applied: {why}",
            hint="The change stays approved; apply it again once the review is done.",
            rule_id=REVIEW_OVERDUE,
            details={"use_case": change.use_case, "change_id": change.id},
        )


@dataclass
class Applier:
    store: ChangeStore
    secret: bytes | Keyring
    audit: AuditSink
    records: RecordLocks = default(default_factory=RecordLocks)

    async def apply(
        self,
        *,
        change_id: str,
        token: str,
        caller: Caller,
        manifest: Manifest,
        digest: str,
        client: Connector | None = None,
        clients: Callable[[str], Connector] | None = None,
        now: datetime | None = None,
        progress: Progress | None = None,
    ) -> Change:
        """Every attempt leaves an intent row before anything else happens, so no upstream
        write can ever happen without one (if the row cannot be written, nothing is tried).
        ``client`` serves a change on one connector; ``clients`` gives each connector's client
        (a change across connectors needs one per part). ``progress`` hears of every batch
        re-read and every batch written, counted toward one total."""
        change = await self.store.require(change_id)
        await self.audit.append(apply_intent_event(caller, change, digest, "apply requested"))
        principal = caller.principal or ""
        await self.store.ensure_not_frozen()
        _refuse_if_review_overdue(manifest, change, now)
        if change.manifest_digest != digest and digest_matches(change.manifest_digest, manifest):
            digest = change.manifest_digest  # proposed before the digest named the file's text
        nonce = await self._verify(change, token, principal, digest, now)
        if change.status is ChangeStatus.PROPOSED:
            raise ChangeRefused(
                f"{change.id} is still waiting for approval ({change.approvals_missing} more "
                f"needed of {change.approvals_required.count}).",
                hint="Human reviewers decide in the review console; check it with get_change "
                "and try again once it is approved.",
            )
        claimed = await self.store.claim_for_apply(change.id, nonce, now=now)
        client_for = _client_for(client, clients)
        try:
            steps = Steps(progress, work_units(claimed))
            # Re-read to write, one apply at a time per record.
            async with self.records.holding(_lock_keys(claimed)):
                await self._refuse_if_drifted(client_for, claimed, manifest, steps)
                return await write_change(self.store, client_for, claimed, steps)
        except anyio.get_cancelled_exc_class():  # settled now, not at some later restart
            await settle_cancelled(self.store, self.audit, claimed.id, client_for, caller)
            raise
        finally:  # let go only once settled (or left for start-up recovery)
            await self.store.end_apply(claimed.id)

    async def _refuse_if_drifted(
        self,
        client_for: Callable[[str], Connector],
        claimed: Change,
        manifest: Manifest,
        steps: Steps | None = None,
    ) -> None:
        """Re-read every target (consent included), on every connector the change touches;
        anything moved anywhere ends the change as stale before a single write. A failed
        re-read ends it as failed, also before any write."""
        try:
            drift: list[str] = []
            for part in across.parts(claimed):
                found = await find_drift(client_for(part.connector), part, manifest, steps)
                prefix = f"{part.connector}: " if part is not claimed else ""
                drift += [prefix + line for line in found]
        except Exception as exc:
            known = (VendorError, UpstreamFailure)
            why = exc.message if isinstance(exc, known) else type(exc).__name__
            await self.store.finish_apply(
                claimed.id, "failed", f"could not re-read targets: {why}; nothing was written"
            )
            if not isinstance(exc, known):
                raise
            raise UpstreamFailure(
                f"could not re-read the targets: {why}",
                hint="Nothing was written: without a fresh read of every target and its consent "
                "nothing is applied (fail closed). Propose again later.",
            ) from exc
        if drift:
            detail = "; ".join(drift[:10]) + (
                f" (+{len(drift) - 10} more)" if len(drift) > 10 else ""
            )
            await self.store.finish_apply(claimed.id, "stale", detail)
            raise StaleChange(
                f"{claimed.id} is stale, nothing was written: {detail}.",
                hint="The data changed since the plan was made; propose again.",
            )

    async def _verify(
        self, change: Change, token: str, principal: str, digest: str, now: datetime | None
    ) -> str:
        """The token's nonce; a genuine token that arrives too late or under another manifest
        also closes the change (expired / stale), so it cannot be approved or applied later."""
        try:
            return verify(
                self.secret,
                token,
                change=change,
                principal=principal,
                manifest_digest=digest,
                now=now,
            )
        except ChangeRefused as exc:
            if change.status in (ChangeStatus.PROPOSED, ChangeStatus.APPROVED):
                if isinstance(exc, StaleChange):
                    await self.store.mark_stale(change.id, exc.message)
                elif exc.details.get("reason_code") == "expired":
                    await self.store.mark_expired(change.id)
            raise


def _lock_keys(change: Change) -> list[str]:
    """What an apply must not share with another in flight: its records, and the list or
    campaign it writes to (a schedule has no records, only its campaign)."""
    keys = [r.ref for r in change.plan.effective_records]
    for part in across.parts(change):  # a change across connectors: each part's list
        if part.plan.target is not None:
            keys.append(f"{part.connector}:{part.plan.target}")
    return keys


def _client_for(
    client: Connector | None, clients: Callable[[str], Connector] | None
) -> Callable[[str], Connector]:
    if clients is not None:
        return clients
    if client is None:
        raise TypeError("apply needs client or clients")
    return lambda _name: client

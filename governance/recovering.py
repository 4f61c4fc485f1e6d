"""Start-up recovery of applies a dead process left half done: settle the account.

A process killed while a vendor batch is in flight leaves its change ``applying`` with that
batch (and any later ones) without a result, although the vendor may have written it. Recovery
re-reads exactly those records from the vendor, compares each with the plan's after-image, and
records it as written or not written, so the account matches the vendor. The change then ends
``applied`` (everything was written) or ``failed``; the rest can be finished through a new,
reviewed proposal (``propose_finish``). Nothing is written upstream here.

A campaign trigger or schedule leaves no state to re-read, so its records stay unaccounted:
guessing either way could email someone twice or never.

The same settling runs at once, in the same process, when an apply is cancelled mid-write (the
client gave up, or its connection dropped): :func:`settle_cancelled`. The process still holds the
change's claim, so no other may be applying it, and the change does not sit ``applying`` in the
queue until some restart.

A proposal's change is stored before the audit row of the call that proposed it (the pipeline
writes that row with the call's outcome). A change whose row never came (the write failed, or the
process died in between) cannot be approved (the store checks the log: :func:`not_in_audit_log`)
and is withdrawn, with an audit row of its own: by the proposer as soon as it learns the write
failed, and here at start-up (:func:`withdraw_unaudited`) for a process that died in between.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import anyio

from mopsgate.crm.connector import Connector
from mopsgate.crm.errors import VendorError
from mopsgate.crm.records import RecordResult
from mopsgate.governance import across
from mopsgate.governance.apply_batches import after_image
from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.caller import Caller
from mopsgate.governance.change_model import Change, ChangeStatus, utcnow
from mopsgate.governance.change_rules import FinalStatus
from mopsgate.governance.errors import ChangeRefused
from mopsgate.governance.ports import PROPOSAL_ROW_GRACE, AuditSink, ChangeStore
from mopsgate.governance.vendor_state import UNVERIFIABLE, written_now

log = logging.getLogger("mopsgate.apply")

WRITTEN = "verified_after_interruption"
# How long a cancelled apply may spend re-reading what it left unaccounted, shielded from the
# cancellation; past it the change stays ``applying`` for start-up recovery, as after a crash.
SETTLE_SECONDS = 30.0
NOT_WRITTEN = "not_written"
UNAUDITED = "the audit row of the call that proposed it was never written"


@dataclass(frozen=True)
class Recovery:
    """What recovery found for one interrupted change (one audit row)."""

    change_id: str
    connector: str
    status: str
    written: list[str] = field(default_factory=list)
    not_written: list[str] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def summary(self) -> str:
        checked = len(self.written) + len(self.not_written) + len(self.unverified)
        text = (
            f"interrupted mid-apply; recovery re-read {checked} unaccounted records: "
            f"{len(self.written)} written, {len(self.not_written)} not written"
        )
        if self.unverified:
            why = self.error or "a campaign run leaves no state to re-read"
            text += f", {len(self.unverified)} could not be verified ({why})"
        return f"{text}; the change is {self.status}"


async def recover_change(
    store: ChangeStore,
    change_id: str,
    client_for: Callable[[str], Connector],
    now: datetime | None = None,
) -> Recovery:
    """Settle one change left ``applying``: by a dead process (``store.interrupted_ids()``, at
    start-up, when no other process may be applying it) or by this process's own cancelled
    apply, while it still holds the change's claim (:func:`settle_cancelled`)."""
    change = await store.require(change_id)
    recorded = {r.ref for r in change.outcome.records}
    missing = [r for r in change.plan.effective_records if r.ref not in recorded]
    error: str | None = None
    verdicts: dict[str, bool] = {}
    if missing and change.plan.operation not in UNVERIFIABLE:
        try:
            for part in across.parts(change):  # each connector re-read with its own client
                mine = {r.ref for r in part.plan.effective_records}
                if todo := [r for r in missing if r.ref in mine]:
                    verdicts |= await written_now(client_for(part.connector), part, todo)
        except VendorError as exc:
            error = f"the vendor could not be read: {exc.message}"
        except Exception as exc:  # a missing credential, a bug: leave the account as it was
            error = f"the vendor could not be read: {type(exc).__name__}"
    results = [(_result(r.ref, verdicts[r.ref]), r) for r in missing if r.ref in verdicts]
    if results:
        await store.record_results(
            change.id,
            [(res, after_image(rec) if res.ok else {}) for res, rec in results],
            now=now,
        )
    written = [r.ref for r in missing if verdicts.get(r.ref) is True]
    all_written = all(r.ok for r in change.outcome.records) and len(written) == len(missing)
    status: FinalStatus = ChangeStatus.APPLIED if all_written else ChangeStatus.FAILED
    recovery = Recovery(
        change_id=change.id,
        connector=change.connector,
        status=str(status),
        written=written,
        not_written=[r.ref for r in missing if verdicts.get(r.ref) is False],
        unverified=[r.ref for r in missing if r.ref not in verdicts],
        error=error,
    )
    await store.finish_apply(change.id, status, recovery.summary, now=now)
    return recovery


def _result(ref: str, written: bool) -> RecordResult:
    if written:
        return RecordResult(
            ref=ref,
            ok=True,
            code=WRITTEN,
            message="re-read after the interrupted apply: holds the planned value",
        )
    return RecordResult(
        ref=ref,
        ok=False,
        code=NOT_WRITTEN,
        message="re-read after the interrupted apply: does not hold the planned value",
    )


def recovery_event(found: Recovery, reason: str, *, upstream_calls: int = 0) -> AuditEvent:
    """The audit row of one settled change, at start-up or after a cancelled apply."""
    return AuditEvent(
        kind="recovery",
        principal="(system)",
        tool="apply_change",
        connector=found.connector,
        decision="n/a",
        outcome="error" if found.error else "ok",
        reason=reason,
        change_id=found.change_id,
        result_summary=found.summary,
        upstream_calls=upstream_calls,
    )


async def settle_cancelled(
    store: ChangeStore,
    audit: AuditSink,
    change_id: str,
    client_for: Callable[[str], Connector],
    caller: Caller,
) -> None:
    """Settle an apply cancelled after its claim, before the claim is let go: re-read what has
    no recorded result and end the change ``applied`` or ``failed``, audited. Shielded from the
    cancellation that brought it here, for at most :data:`SETTLE_SECONDS`; if it cannot finish
    (the vendor does not answer, the database refuses) the change is left ``applying`` and the
    next start-up's recovery settles it, exactly as after a crash."""
    with anyio.move_on_after(SETTLE_SECONDS, shield=True):
        try:
            if (await store.require(change_id)).status is not ChangeStatus.APPLYING:
                return  # already ended (stale, or failed on its re-read) before the cancel
            found = await recover_change(store, change_id, client_for)
            log.warning("settled cancelled apply %s: %s", change_id, found.summary)
            who = caller.principal or "an unnamed caller"
            await audit.append(
                recovery_event(found, f"settled at once: {who}'s apply was cancelled mid-write")
            )
        except Exception:
            log.exception(
                "could not settle the cancelled apply %s; start-up recovery will", change_id
            )


def not_in_audit_log(change: Change) -> ChangeRefused:
    """Why a change whose proposing call has no row in the audit log is not decided on."""
    return ChangeRefused(
        f"{change.id} cannot be approved or rejected: the audit log holds no row of the call "
        "that proposed it (the call failed unaudited, or its row is still being written).",
        hint="Nothing on record asked for this change, so it is never approved or applied; it "
        "is withdrawn (get_change says so), and the requester may propose it again.",
        details={"change_id": change.id, "reason_code": "proposal_unaudited"},
    )


def withdrawal_event(change: Change, reason: str = UNAUDITED) -> AuditEvent:
    """The audit row of a change withdrawn because its proposal was never audited."""
    return AuditEvent(
        kind="recovery",
        principal="(system)",
        tool=change.tool,
        connector=change.connector,
        decision="n/a",
        reason=reason,
        change_id=change.id,
        use_case=change.use_case,
        result_summary=f"withdrawn, proposed by {change.requester}: {reason}; it can never be "
        "approved or applied",
    )


async def withdraw(store: ChangeStore, change_id: str, now: datetime | None = None) -> bool:
    """Withdraw ``change_id`` if the audit log holds no row of its proposing call (True), with
    the withdrawal's row in the same transaction; AuditUnavailable when that row cannot be
    written, and the change stays as it was (still never approvable)."""
    done = await store.withdraw_unaudited(change_id, UNAUDITED, withdrawal_event, now=now)
    if done is not None:
        log.warning("withdrew %s: %s", change_id, UNAUDITED)
    return done is not None


async def withdraw_unaudited(
    store: ChangeStore, now: datetime | None = None, found: Sequence[str] | None = None
) -> list[str]:
    """At start-up: withdraw every proposed change stored over :data:`PROPOSAL_ROW_GRACE` ago
    whose proposing call never got its audit row: a process died in between. ``found``: those
    changes, when the caller has just read them (the start reads them before importing this)."""
    at = now or utcnow()
    if found is None:
        found = await store.unaudited_ids(at - PROPOSAL_ROW_GRACE)
    return [change_id for change_id in found if await withdraw(store, change_id, now=at)]
